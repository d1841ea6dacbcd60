namespace MiniHv.Cpu;

/// <summary>
/// One software TLB entry: a linear page, the guest frame it translates to and the host
/// address of that frame's bytes, stored as an addend so that host = Addend + linear. An entry
/// for a page that is not RAM carries <see cref="Unbacked"/> in its tag and no host address.
/// </summary>
internal struct TlbEntry
{
    /// <summary>Linear page address (low 12 bits clear), or <see cref="Invalid"/>.</summary>
    public uint Tag;

    public uint Gfn;

    public nint Addend;

    /// <summary>A tag no page-aligned address can match.</summary>
    public const uint Invalid = 1;

    /// <summary>
    /// Set in <see cref="Tag"/> beside a linear page whose frame is not RAM (a device window): the inline
    /// fast path never matches it, and the slow path finds the physical page in <see cref="Gfn"/> without
    /// walking the page tables again.
    /// </summary>
    public const uint Unbacked = 2;
}

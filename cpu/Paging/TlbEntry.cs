namespace MiniHv.Cpu;

/// <summary>
/// One software TLB entry: a linear page, the guest frame it translates to and the host
/// address of that frame's bytes, stored as an addend so that host = Addend + linear.
/// </summary>
internal struct TlbEntry
{
    /// <summary>Linear page address (low 12 bits clear), or <see cref="Invalid"/>.</summary>
    public uint Tag;

    public uint Gfn;

    public nint Addend;

    /// <summary>A tag no page-aligned address can match.</summary>
    public const uint Invalid = 1;
}

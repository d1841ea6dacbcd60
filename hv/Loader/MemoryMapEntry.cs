namespace MiniHv.Hv.Loader;

/// <summary>One range of the BIOS memory map (e820) handed to the kernel in the multiboot information.</summary>
/// <param name="Type">1 for available RAM, 2 for reserved.</param>
public readonly record struct MemoryMapEntry(ulong Base, ulong Length, uint Type)
{
    public const uint Available = 1;
    public const uint Reserved = 2;
}

namespace MiniHv.Hv.Loader;

/// <summary>One piece of a kernel image: <see cref="FileSize"/> bytes from <see cref="FileOffset"/> placed at <see cref="PhysicalAddress"/>, zeros after them up to <see cref="MemorySize"/>.</summary>
/// <param name="Executable">The ELF program header's PF_X (true for a.out-kludge images, whose one range is text and data together).</param>
/// <param name="Writable">The ELF program header's PF_W.</param>
public readonly record struct LoadSegment(uint PhysicalAddress, uint FileOffset, uint FileSize, uint MemorySize, bool Executable = true, bool Writable = true)
{
    /// <summary>The first physical address after the segment (up to 4 GiB, hence a long).</summary>
    public long End => (long)PhysicalAddress + MemorySize;

    public override string ToString() => $"0x{PhysicalAddress:x}-0x{End - 1:x}";
}

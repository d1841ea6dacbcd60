namespace MiniHv.Hv.Loader;

/// <summary>One piece of a kernel image: <see cref="FileSize"/> bytes from <see cref="FileOffset"/> placed at <see cref="PhysicalAddress"/>, zeros after them up to <see cref="MemorySize"/>.</summary>
public readonly record struct LoadSegment(uint PhysicalAddress, uint FileOffset, uint FileSize, uint MemorySize)
{
    /// <summary>The first physical address after the segment (up to 4 GiB, hence a long).</summary>
    public long End => (long)PhysicalAddress + MemorySize;

    public override string ToString() => $"0x{PhysicalAddress:x}-0x{End - 1:x}";
}

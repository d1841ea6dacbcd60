namespace MiniHv.Hv.Loader;

/// <summary>One PT_LOAD segment of an ELF image, placed by the virtual address the program runs at (p_vaddr).</summary>
/// <param name="Index">The program header's index in the file, for messages.</param>
/// <param name="Executable">The program header's PF_X.</param>
/// <param name="Writable">The program header's PF_W.</param>
public readonly record struct ElfSegment(int Index, uint VirtualAddress, uint PhysicalAddress, uint FileOffset, uint FileSize, uint MemorySize,
    bool Executable, bool Writable)
{
    /// <summary>The first virtual address after the segment, bss included (up to 4 GiB, hence a long).</summary>
    public long End => (long)VirtualAddress + MemorySize;

    /// <summary>The first virtual address after the bytes the file holds; from there to <see cref="End"/> is zero-filled bss.</summary>
    public long FileEnd => (long)VirtualAddress + FileSize;

    public bool Contains(uint address) => address >= VirtualAddress && address < End;

    public override string ToString() => $"{VirtualAddress:x8}-{End - 1:x8}";
}

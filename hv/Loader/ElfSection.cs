namespace MiniHv.Hv.Loader;

/// <summary>One ELF32 section header, with its name from the section-name string table.</summary>
/// <param name="Index">The section's index, as symbols name it (st_shndx).</param>
/// <param name="Type">sh_type: <see cref="TypeSymbolTable"/>, <see cref="TypeStringTable"/>, ...</param>
/// <param name="Flags">sh_flags: <see cref="FlagAlloc"/>, <see cref="FlagExecute"/>, ...</param>
/// <param name="Address">sh_addr: the virtual address of the section's first byte when it is loaded.</param>
public sealed record ElfSection(int Index, string Name, uint Type, uint Flags, uint Address, uint Offset, uint Size, uint Link, uint EntrySize)
{
    public const uint TypeSymbolTable = 2;      // SHT_SYMTAB
    public const uint TypeStringTable = 3;      // SHT_STRTAB
    public const uint TypeNoBits = 8;           // SHT_NOBITS: occupies memory, not the file (.bss)

    public const uint FlagWrite = 1;            // SHF_WRITE
    public const uint FlagAlloc = 2;            // SHF_ALLOC: in memory while the program runs
    public const uint FlagExecute = 4;          // SHF_EXECINSTR: machine instructions

    public bool IsAllocated => (Flags & FlagAlloc) != 0;

    public bool IsExecutable => (Flags & FlagExecute) != 0;

    /// <summary>The first virtual address after the section.</summary>
    public long End => (long)Address + Size;

    public override string ToString() => Name.Length > 0 ? $"section {Index} ({Name})" : $"section {Index}";
}

namespace MiniHv.Hv.Loader;

/// <summary>What a symbol names, from its ELF type.</summary>
public enum ElfSymbolKind
{
    /// <summary>STT_FUNC (and STT_GNU_IFUNC): code, usually with its size.</summary>
    Function,

    /// <summary>STT_OBJECT: data, usually with its size.</summary>
    Object,

    /// <summary>STT_NOTYPE: a bare label, such as assembly entry points (_start, trap vectors) or data markers.</summary>
    Label,
}

/// <summary>A symbol's ELF binding: where its name is visible.</summary>
public enum ElfSymbolBinding
{
    /// <summary>STB_LOCAL: a C static, or a label of one assembly file.</summary>
    Local,

    /// <summary>STB_GLOBAL (and anything above STB_WEAK).</summary>
    Global,

    /// <summary>STB_WEAK.</summary>
    Weak,
}

/// <summary>One defined symbol of an ELF .symtab.</summary>
/// <param name="Value">st_value: the symbol's virtual address.</param>
/// <param name="Size">st_size: bytes from <paramref name="Value"/>, 0 when unknown (assembly labels).</param>
/// <param name="SectionIndex">The section it is defined in, or null for an absolute symbol (SHN_ABS).</param>
/// <param name="InExecutableSection">The section it is defined in holds instructions (SHF_EXECINSTR).</param>
public sealed record ElfSymbol(string Name, uint Value, uint Size, ElfSymbolKind Kind, ElfSymbolBinding Binding, int? SectionIndex,
    bool InExecutableSection)
{
    /// <summary>A function, or a bare label among instructions (an assembly entry point such as a trap vector).</summary>
    public bool IsCode => Kind == ElfSymbolKind.Function || (Kind == ElfSymbolKind.Label && InExecutableSection);

    public override string ToString() => $"{Name} ({Kind}, {Value:x8}, {Size} bytes)";
}

using System.Buffers.Binary;
using System.Text;

namespace MiniHv.Hv.Loader;

/// <summary>
/// The symbols of an ELF32 i386 file (.symtab and the string table it links to), the section headers
/// that hold them, and the PT_LOAD segments, by virtual address, where each symbol's bytes are.
/// </summary>
/// <remarks>
/// Reads any ELF32 i386 executable or shared object, multiboot or not: a JOS or xv6 kernel, a user
/// program. Every offset, size and index from the file is checked with 64-bit arithmetic before use,
/// so a truncated or malformed file gives an <see cref="InvalidImageException"/> naming what is wrong.
/// A file without section headers or without .symtab (stripped) is valid: it has no symbols.
/// </remarks>
public sealed class ElfSymbols
{
    private const int SectionHeaderBytes = 40;
    private const int SymbolBytes = 16;

    // Special section indexes (st_shndx, e_shstrndx).
    private const ushort SectionUndefined = 0;
    private const ushort SectionLowReserved = 0xff00;
    private const ushort SectionAbsolute = 0xfff1;
    private const ushort SectionCommon = 0xfff2;
    private const ushort SectionExtendedIndex = 0xffff;

    // st_info's low nibble.
    private const int SymbolNoType = 0, SymbolObject = 1, SymbolFunction = 2, SymbolGnuIndirectFunction = 10;

    private readonly ElfSymbol[] _code;
    private readonly Dictionary<string, List<ElfSymbol>> _byName;
    private readonly Dictionary<int, uint[]> _valuesBySection;

    private ElfSymbols(ReadOnlyMemory<byte> bytes, ElfSegment[] segments, ElfSection[] sections, ElfSymbol[] symbols, bool hasSymbolTable)
    {
        Bytes = bytes;
        Segments = segments;
        Sections = sections;
        Symbols = symbols;
        HasSymbolTable = hasSymbolTable;

        _code = symbols.Where(s => s.IsCode).ToArray();
        _byName = new Dictionary<string, List<ElfSymbol>>(StringComparer.Ordinal);
        foreach (ElfSymbol s in symbols)
        {
            if (!_byName.TryGetValue(s.Name, out List<ElfSymbol>? same))
                _byName[s.Name] = same = [];
            same.Add(s);
        }

        _valuesBySection = symbols.Where(s => s.SectionIndex != null)
            .GroupBy(s => s.SectionIndex!.Value)
            .ToDictionary(g => g.Key, g => g.Select(s => s.Value).Distinct().Order().ToArray());
    }

    /// <summary>The file's bytes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The PT_LOAD segments with a non-zero p_memsz, in file order.</summary>
    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>Every section header, by index (index 0 is the null section); empty when the file has none.</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>
    /// The named, defined symbols that have an address (functions, objects, labels), by address; where
    /// several share one, the one a listing names comes first (a function, then an object, then a label;
    /// global, then weak, then local).
    /// </summary>
    public IReadOnlyList<ElfSymbol> Symbols { get; }

    /// <summary>The file has a .symtab (false when stripped).</summary>
    public bool HasSymbolTable { get; }

    /// <summary>The code symbols (<see cref="ElfSymbol.IsCode"/>), in the order of <see cref="Symbols"/>.</summary>
    public IReadOnlyList<ElfSymbol> CodeSymbols => _code;

    /// <summary>Reads <paramref name="file"/>'s header, program headers, section headers and symbol table.</summary>
    /// <exception cref="InvalidImageException">The file is not ELF32 i386, or a table in it is truncated or malformed.</exception>
    public static ElfSymbols Parse(ReadOnlyMemory<byte> file)
    {
        ReadOnlySpan<byte> bytes = file.Span;
        CheckHeader(bytes);
        ElfSegment[] segments = ReadSegments(bytes);
        ElfSection[] sections = ReadSections(bytes);
        ElfSection? symbolTable = sections.FirstOrDefault(s => s.Type == ElfSection.TypeSymbolTable);
        ElfSymbol[] symbols = symbolTable == null ? [] : ReadSymbols(bytes, sections, symbolTable);
        Array.Sort(symbols, CompareForListing);
        return new ElfSymbols(file, segments, sections, symbols, symbolTable != null);
    }

    /// <summary>Every symbol called <paramref name="name"/> (C statics of different files may share one), by address.</summary>
    public IReadOnlyList<ElfSymbol> Named(string name) => _byName.TryGetValue(name, out List<ElfSymbol>? found) ? found : [];

    /// <summary>The loaded segment whose virtual range (bss included) holds <paramref name="address"/>, or null.</summary>
    public ElfSegment? SegmentAt(uint address)
    {
        foreach (ElfSegment s in Segments)
        {
            if (s.Contains(address))
                return s;
        }

        return null;
    }

    /// <summary>The file's bytes from virtual <paramref name="address"/> to the end of its segment's file data; empty in bss or outside every segment.</summary>
    public ReadOnlyMemory<byte> BytesAt(uint address)
    {
        if (SegmentAt(address) is not ElfSegment s || address >= s.FileEnd)
            return ReadOnlyMemory<byte>.Empty;
        uint skip = address - s.VirtualAddress;
        return Bytes.Slice((int)(s.FileOffset + skip), (int)(s.FileSize - skip));
    }

    /// <summary>
    /// The first address after <paramref name="symbol"/>: its value + st_size, or for a symbol of size 0
    /// the next symbol of its section (or the section's end).
    /// </summary>
    public long SpanEnd(ElfSymbol symbol)
    {
        if (symbol.Size > 0)
            return (long)symbol.Value + symbol.Size;
        if (symbol.SectionIndex is not int index || !_valuesBySection.TryGetValue(index, out uint[]? values))
            return symbol.Value;

        int found = Array.BinarySearch(values, symbol.Value);
        int next = found >= 0 ? found + 1 : ~found;
        if (next < values.Length)
            return values[next];
        ElfSection section = Sections[index];
        return section.End > symbol.Value ? section.End : symbol.Value;
    }

    /// <summary>The code symbol a listing names at <paramref name="address"/>, the one that starts there, or null.</summary>
    public ElfSymbol? CodeSymbolStartingAt(uint address)
    {
        int i = FirstCodeSymbolAbove(address) - 1;
        while (i > 0 && _code[i - 1].Value == address)
            i--;
        return i >= 0 && _code[i].Value == address ? _code[i] : null;
    }

    /// <summary>The code symbol whose span (<see cref="SpanEnd"/>) holds <paramref name="address"/>, the nearest below it when spans nest; or null.</summary>
    public ElfSymbol? CodeSymbolAt(uint address)
    {
        ElfSymbol? found = null;
        for (int i = FirstCodeSymbolAbove(address) - 1; i >= 0; i--)
        {
            ElfSymbol s = _code[i];
            if (found != null && s.Value != found.Value)
                break;
            if (address < SpanEnd(s))
                found = s;  // walking down, so among symbols at one address the preferred one comes last
        }

        return found;
    }

    /// <summary>The index of the first code symbol whose value is above <paramref name="address"/>.</summary>
    private int FirstCodeSymbolAbove(uint address)
    {
        int low = 0, high = _code.Length;
        while (low < high)
        {
            int mid = (low + high) / 2;
            if (_code[mid].Value <= address)
                low = mid + 1;
            else
                high = mid;
        }

        return low;
    }

    /// <summary>By address; at one address the name a listing shows first: a function, then an object, then a label; global, then weak, then local.</summary>
    private static int CompareForListing(ElfSymbol a, ElfSymbol b)
    {
        int c = a.Value.CompareTo(b.Value);
        if (c == 0)
            c = a.Kind.CompareTo(b.Kind);
        if (c == 0)
            c = BindingRank(a.Binding).CompareTo(BindingRank(b.Binding));
        if (c == 0)
            c = string.CompareOrdinal(a.Name, b.Name);
        return c;
    }

    private static int BindingRank(ElfSymbolBinding binding) => binding switch
    {
        ElfSymbolBinding.Global => 0,
        ElfSymbolBinding.Weak => 1,
        _ => 2,
    };

    private static void CheckHeader(ReadOnlySpan<byte> file)
    {
        if (file.Length == 0)
            throw new InvalidImageException("the file is empty (0 bytes)");
        if (!Elf32File.HasMagic(file))
            throw new InvalidImageException("not an ELF file (no \\x7fELF at the start)");
        Elf32File.CheckHeader(file, allowShared: true);
    }

    /// <summary>The PT_LOAD segments, by virtual address.</summary>
    private static ElfSegment[] ReadSegments(ReadOnlySpan<byte> file)
    {
        var segments = new List<ElfSegment>();
        foreach (ElfProgramHeader ph in Elf32File.LoadSegments(file))
        {
            if ((long)ph.VirtualAddress + ph.MemorySize > 1L << 32)
                throw new InvalidImageException($"ELF segment {ph.Index} at virtual 0x{ph.VirtualAddress:x} (0x{ph.MemorySize:x} bytes) runs past 4 GiB");
            segments.Add(new ElfSegment(ph.Index, ph.VirtualAddress, ph.PhysicalAddress, ph.Offset, ph.FileSize, ph.MemorySize,
                ph.Executable, ph.Writable));
        }

        return [.. segments];
    }

    /// <summary>Every section header, with its name; none when e_shoff is 0.</summary>
    private static ElfSection[] ReadSections(ReadOnlySpan<byte> file)
    {
        uint shOffset = U32(file, 32);
        ushort shEntrySize = U16(file, 46);
        uint shCount = U16(file, 48);
        uint namesIndex = U16(file, 50);
        if (shOffset == 0)
            return [];
        if (shEntrySize != SectionHeaderBytes)
            throw new InvalidImageException($"ELF section header entries are {shEntrySize} bytes, ELF32 has {SectionHeaderBytes}");

        // With 0xff00 sections or more, e_shnum is 0 and e_shstrndx SHN_XINDEX: the real values are
        // section 0's sh_size and sh_link.
        if (shCount == 0 || namesIndex == SectionExtendedIndex)
        {
            CheckSectionTable(file, shOffset, 1, "section header 0");
            if (shCount == 0)
                shCount = U32(file, (int)shOffset + 20);
            if (namesIndex == SectionExtendedIndex)
                namesIndex = U32(file, (int)shOffset + 24);
            if (shCount == 0)
                return [];
        }

        CheckSectionTable(file, shOffset, shCount, $"{shCount} section headers");
        var raw = new (uint Name, uint Type, uint Flags, uint Address, uint Offset, uint Size, uint Link, uint EntrySize)[shCount];
        for (int i = 0; i < raw.Length; i++)
        {
            int sh = (int)shOffset + i * SectionHeaderBytes;
            raw[i] = (U32(file, sh), U32(file, sh + 4), U32(file, sh + 8), U32(file, sh + 12), U32(file, sh + 16), U32(file, sh + 20),
                U32(file, sh + 24), U32(file, sh + 36));
        }

        ReadOnlySpan<byte> names = [];
        if (namesIndex != SectionUndefined)
        {
            if (namesIndex >= shCount)
                throw new InvalidImageException(
                    $"e_shstrndx {namesIndex} names no section: the file has {shCount} section headers");
            var n = raw[namesIndex];
            names = SectionData(file, n.Offset, n.Size, $"the section-name string table, section {namesIndex},");
        }

        var sections = new ElfSection[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            var r = raw[i];
            string name = namesIndex == SectionUndefined || r.Name == 0 ? "" : ReadString(names, r.Name, "the section-name string table", $"section {i}");
            sections[i] = new ElfSection(i, name, r.Type, r.Flags, r.Address, r.Offset, r.Size, r.Link, r.EntrySize);
        }

        return sections;
    }

    private static void CheckSectionTable(ReadOnlySpan<byte> file, uint offset, uint count, string what)
    {
        long end = (long)offset + (long)count * SectionHeaderBytes;
        if (end > file.Length)
            throw new InvalidImageException(
                $"truncated section headers: {what} at file offset 0x{offset:x} end at 0x{end:x}, but the file ends at 0x{file.Length:x}");
    }

    /// <summary>The defined symbols of <paramref name="table"/> that have a name and an address.</summary>
    private static ElfSymbol[] ReadSymbols(ReadOnlySpan<byte> file, ElfSection[] sections, ElfSection table)
    {
        if (table.EntrySize != SymbolBytes)
            throw new InvalidImageException($"{table}: symbol entries are {table.EntrySize} bytes, ELF32 has {SymbolBytes}");
        if (table.Size % SymbolBytes != 0)
            throw new InvalidImageException($"{table}: its size 0x{table.Size:x} is not a whole number of {SymbolBytes}-byte symbols");
        ReadOnlySpan<byte> entries = SectionData(file, table.Offset, table.Size, $"the symbol table, {table},");
        if (table.Link == 0 || table.Link >= sections.Length)
            throw new InvalidImageException($"{table}: sh_link {table.Link} names no string table (the file has {sections.Length} sections)");
        ElfSection strings = sections[table.Link];
        if (strings.Type != ElfSection.TypeStringTable)
            throw new InvalidImageException($"{table}: sh_link {table.Link} names {strings}, which is not a string table (SHT_STRTAB)");
        ReadOnlySpan<byte> names = SectionData(file, strings.Offset, strings.Size, $"the symbol string table, {strings},");

        var symbols = new List<ElfSymbol>();
        for (int i = 1; i < entries.Length / SymbolBytes; i++)    // entry 0 is the undefined symbol
        {
            int at = i * SymbolBytes;
            uint nameOffset = U32(entries, at);
            uint value = U32(entries, at + 4);
            uint size = U32(entries, at + 8);
            byte info = entries[at + 12];
            ushort sectionIndex = U16(entries, at + 14);

            ElfSymbolKind kind;
            switch (info & 0xF)
            {
                case SymbolFunction or SymbolGnuIndirectFunction: kind = ElfSymbolKind.Function; break;
                case SymbolObject: kind = ElfSymbolKind.Object; break;
                case SymbolNoType: kind = ElfSymbolKind.Label; break;
                default: continue;  // sections, files, TLS offsets, commons: no address of their own
            }

            // Undefined and common symbols have no address; an index above the extended-index escape
            // lives in SHT_SYMTAB_SHNDX, which i386 kernels never need (fewer than 0xff00 sections).
            if (sectionIndex is SectionUndefined or SectionCommon || (sectionIndex >= SectionLowReserved && sectionIndex != SectionAbsolute))
                continue;
            if (sectionIndex != SectionAbsolute && sectionIndex >= sections.Length)
                throw new InvalidImageException(
                    $"{table}: symbol {i} is defined in section {sectionIndex}, but the file has {sections.Length} sections");
            if (nameOffset == 0)
                continue;

            string name = ReadString(names, nameOffset, "the symbol string table", $"symbol {i}");
            ElfSymbolBinding binding = (info >> 4) switch
            {
                0 => ElfSymbolBinding.Local,
                2 => ElfSymbolBinding.Weak,
                _ => ElfSymbolBinding.Global,
            };
            bool absolute = sectionIndex == SectionAbsolute;
            symbols.Add(new ElfSymbol(name, value, size, kind, binding, absolute ? null : sectionIndex,
                !absolute && sections[sectionIndex].IsExecutable));
        }

        return [.. symbols];
    }

    /// <summary>A section's file bytes, after checking that the file holds them all.</summary>
    private static ReadOnlySpan<byte> SectionData(ReadOnlySpan<byte> file, uint offset, uint size, string what)
    {
        long end = (long)offset + size;
        if (end > file.Length)
            throw new InvalidImageException(
                $"{what} needs file bytes 0x{offset:x}-0x{end:x}, but the file ends at 0x{file.Length:x}");
        return file.Slice((int)offset, (int)size);
    }

    /// <summary>The NUL-terminated string at <paramref name="offset"/> in a string table.</summary>
    private static string ReadString(ReadOnlySpan<byte> table, uint offset, string tableName, string owner)
    {
        if (offset >= table.Length)
            throw new InvalidImageException(
                $"{owner}'s name at offset 0x{offset:x} is past the end of {tableName} (0x{table.Length:x} bytes)");
        int length = table[(int)offset..].IndexOf((byte)0);
        if (length < 0)
            throw new InvalidImageException($"{owner}'s name at offset 0x{offset:x} runs past the end of {tableName} with no terminating NUL");
        return Encoding.UTF8.GetString(table.Slice((int)offset, length));
    }

    private static uint U32(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(offset, 4));

    private static ushort U16(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(offset, 2));
}

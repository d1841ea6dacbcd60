using System.Buffers.Binary;
using System.Text;
using static MiniHv.Tests.Loader.MultibootElfBuilder;

namespace MiniHv.Tests.Loader;

/// <summary>
/// Gives an image from <see cref="MultibootElfBuilder"/> section headers and a symbol table: a section
/// per PT_LOAD segment (.text for an executable one, .data otherwise), then .symtab, .strtab and
/// .shstrtab. The tables follow the segment data and the section headers end the file, so cutting
/// the file short truncates the section headers first.
/// </summary>
internal sealed class ElfSectionBuilder
{
    public const int SectionHeaderBytes = 40;
    public const int SymbolBytes = 16;
    public const int OffsetOfShOffset = 32;
    public const int OffsetOfShEntrySize = 46;
    public const int OffsetOfShNum = 48;
    public const int OffsetOfShStrIndex = 50;

    // Fields of a section header.
    public const int ShName = 0, ShType = 4, ShFlags = 8, ShAddress = 12, ShOffset = 16, ShSize = 20, ShLink = 24, ShInfo = 28, ShEntrySize = 36;

    public const byte TypeNone = 0, TypeObject = 1, TypeFunction = 2, TypeSection = 3, TypeFile = 4;
    public const byte BindLocal = 0, BindGlobal = 1, BindWeak = 2;
    public const ushort SectionAbsolute = 0xfff1;

    public sealed record Symbol(string Name, uint Value, uint Size, byte Type, byte Binding, ushort Section);

    public List<Symbol> Symbols { get; } = [];

    /// <summary>Leave out .symtab and .strtab, as strip does (the other sections stay).</summary>
    public bool Stripped { get; set; }

    /// <summary>After <see cref="Build"/>: where the section header table starts.</summary>
    public int SectionHeadersAt { get; private set; }

    /// <summary>After <see cref="Build"/>: the indexes of .symtab, .strtab and .shstrtab.</summary>
    public int SymbolTableIndex { get; private set; }

    public int StringTableIndex { get; private set; }

    public int SectionNamesIndex { get; private set; }

    /// <summary>The index of the section made for PT_LOAD segment <paramref name="segment"/>.</summary>
    public static ushort SectionOf(int segment) => (ushort)(1 + segment);

    public ElfSectionBuilder Function(string name, uint value, uint size, int segment = 0, byte binding = BindGlobal)
        => Add(new Symbol(name, value, size, TypeFunction, binding, SectionOf(segment)));

    public ElfSectionBuilder Object(string name, uint value, uint size, int segment = 1)
        => Add(new Symbol(name, value, size, TypeObject, BindGlobal, SectionOf(segment)));

    public ElfSectionBuilder Label(string name, uint value, int segment = 0)
        => Add(new Symbol(name, value, 0, TypeNone, BindLocal, SectionOf(segment)));

    public ElfSectionBuilder Add(Symbol symbol)
    {
        Symbols.Add(symbol);
        return this;
    }

    /// <summary>The file offset of section <paramref name="index"/>'s header (after <see cref="Build"/>).</summary>
    public int SectionHeaderAt(int index) => SectionHeadersAt + index * SectionHeaderBytes;

    public byte[] Build(byte[] elf)
    {
        var segments = new List<(uint Offset, uint Vaddr, uint FileSize, uint Flags)>();
        for (int i = 0; i < BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(OffsetOfPhNum)); i++)
        {
            int ph = ProgramHeaderAt(i);
            if (U32(elf, ph) == 1)
                segments.Add((U32(elf, ph + 4), U32(elf, ph + 8), U32(elf, ph + 16), U32(elf, ph + 24)));
        }

        var names = new StringTable();
        var strings = new StringTable();
        var symbols = new MemoryStream();
        symbols.Write(new byte[SymbolBytes]);   // entry 0: the undefined symbol
        List<Symbol> ordered = [.. Symbols.Where(s => s.Binding == BindLocal), .. Symbols.Where(s => s.Binding != BindLocal)];
        foreach (Symbol s in ordered)
        {
            var entry = new byte[SymbolBytes];
            Put32(entry, 0, s.Name.Length == 0 ? 0 : strings.Add(s.Name));   // st_name 0: no name
            Put32(entry, 4, s.Value);
            Put32(entry, 8, s.Size);
            entry[12] = (byte)(s.Binding << 4 | s.Type);
            Put16(entry, 14, s.Section);
            symbols.Write(entry);
        }

        // Section headers: null, one per segment, [.symtab, .strtab,] .shstrtab.
        var headers = new List<(uint Name, uint Type, uint Flags, uint Address, uint Offset, uint Size, uint Link, uint Info, uint EntrySize)>
        {
            (0, 0, 0, 0, 0, 0, 0, 0, 0),
        };
        foreach (var (offset, vaddr, fileSize, flags) in segments)
        {
            bool text = (flags & 1) != 0;
            headers.Add((names.Add(text ? ".text" : ".data"), 1, text ? 2u | 4u : 2u | 1u, vaddr, offset, fileSize, 0, 0, 0));
        }

        var file = new MemoryStream();
        file.Write(elf);
        int symbolsIndex = 0, stringsIndex = 0;
        if (!Stripped)
        {
            symbolsIndex = headers.Count;
            stringsIndex = headers.Count + 1;
            uint symbolsAt = Align(file);
            file.Write(symbols.ToArray());
            uint stringsAt = (uint)file.Length;
            file.Write(strings.Bytes);
            headers.Add((names.Add(".symtab"), 2, 0, 0, symbolsAt, (uint)symbols.Length, (uint)stringsIndex, (uint)(Symbols.Count(s => s.Binding == BindLocal) + 1), SymbolBytes));
            headers.Add((names.Add(".strtab"), 3, 0, 0, stringsAt, (uint)strings.Bytes.Length, 0, 0, 0));
        }

        int namesIndex = headers.Count;
        uint namesName = names.Add(".shstrtab");
        uint namesAt = (uint)file.Length;
        file.Write(names.Bytes);
        headers.Add((namesName, 3, 0, 0, namesAt, (uint)names.Bytes.Length, 0, 0, 0));

        uint headersAt = Align(file);
        foreach (var h in headers)
        {
            var entry = new byte[SectionHeaderBytes];
            Put32(entry, ShName, h.Name);
            Put32(entry, ShType, h.Type);
            Put32(entry, ShFlags, h.Flags);
            Put32(entry, ShAddress, h.Address);
            Put32(entry, ShOffset, h.Offset);
            Put32(entry, ShSize, h.Size);
            Put32(entry, ShLink, h.Link);
            Put32(entry, ShInfo, h.Info);
            Put32(entry, ShEntrySize, h.EntrySize);
            file.Write(entry);
        }

        byte[] result = file.ToArray();
        Put32(result, OffsetOfShOffset, headersAt);
        Put16(result, OffsetOfShEntrySize, SectionHeaderBytes);
        Put16(result, OffsetOfShNum, (ushort)headers.Count);
        Put16(result, OffsetOfShStrIndex, (ushort)namesIndex);
        SectionHeadersAt = (int)headersAt;
        SymbolTableIndex = symbolsIndex;
        StringTableIndex = stringsIndex;
        SectionNamesIndex = namesIndex;
        return result;
    }

    private static uint Align(MemoryStream file)
    {
        while (file.Length % 4 != 0)
            file.WriteByte(0);
        return (uint)file.Length;
    }

    private static uint U32(byte[] file, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset));

    /// <summary>An ELF string table: a NUL first, then each string with its NUL.</summary>
    private sealed class StringTable
    {
        private readonly MemoryStream _bytes = new();

        public StringTable() => _bytes.WriteByte(0);

        public byte[] Bytes => _bytes.ToArray();

        public uint Add(string s)
        {
            uint at = (uint)_bytes.Position;
            _bytes.Write(Encoding.UTF8.GetBytes(s));
            _bytes.WriteByte(0);
            return at;
        }
    }
}

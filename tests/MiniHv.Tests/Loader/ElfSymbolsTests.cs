using Iced.Intel;
using MiniHv.Hv.Loader;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Tests.Loader.ElfSectionBuilder;
using static MiniHv.Tests.Loader.MultibootElfBuilder;

namespace MiniHv.Tests.Loader;

/// <summary>The ELF32 symbol reader on hand-built images: what it finds, and how it refuses a malformed file.</summary>
public class ElfSymbolsTests
{
    // Linked high and loaded low, like JOS: text at virtual f0100000, physical 00100000.
    private const uint TextVirtual = 0xF010_0000, TextPhysical = 0x0010_0000;
    private const uint DataVirtual = 0xF010_2000, DataPhysical = 0x0010_2000;

    /// <summary>
    /// start (10 bytes, calls helper), 6 bytes of padding, helper (0x10 bytes, a label helper_ret inside),
    /// vector0 (a sizeless label up to the end of .text), and in data an object and a label.
    /// </summary>
    private sealed record Sample(byte[] File, ElfSectionBuilder Sections, byte[] Text);

    private static Sample Build(Action<ElfSectionBuilder>? more = null, bool stripped = false)
    {
        var a = new Assembler(32);
        Label helper = a.CreateLabel();
        a.push(ebp);                // start: f0100000
        a.mov(ebp, esp);
        a.call(helper);
        a.pop(ebp);
        a.ret();
        for (int i = 0; i < 6; i++)
            a.nop();                // padding up to f0100010, no symbol
        a.Label(ref helper);        // helper: f0100010
        a.mov(eax, 1);
        a.ret();                    // helper_ret: f0100015
        for (int i = 0; i < 10; i++)
            a.int3();
        a.push(0);                  // vector0: f0100020
        a.ret();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), TextVirtual);
        byte[] text = stream.ToArray();
        Assert.That(text, Has.Length.EqualTo(0x23), "the layout the tests assume");

        byte[] elf = new MultibootElfBuilder { Entry = TextPhysical }
            .AddSegment(TextPhysical, text, vaddr: TextVirtual, flags: 5)
            .AddSegment(DataPhysical, new byte[0x40], memorySize: 0x1000, vaddr: DataVirtual, flags: 6)
            .Build();
        var sections = new ElfSectionBuilder { Stripped = stripped }
            .Function("start", TextVirtual, 10)
            .Function("helper", TextVirtual + 0x10, 0x10, binding: BindLocal)
            .Label("helper_ret", TextVirtual + 0x15)
            .Label("vector0", TextVirtual + 0x20)
            .Object("counter", DataVirtual + 8, 4)
            .Label("edata", DataVirtual + 0x40, segment: 1)
            .Add(new Symbol("KERNBASE", 0xF000_0000, 0, TypeNone, BindGlobal, SectionAbsolute))
            .Add(new Symbol("init.c", 0, 0, TypeFile, BindLocal, SectionAbsolute))
            .Add(new Symbol("", TextVirtual, 0, TypeSection, BindLocal, SectionOf(0)))
            .Add(new Symbol("cprintf", 0, 0, TypeFunction, BindGlobal, 0));   // undefined
        more?.Invoke(sections);
        return new Sample(sections.Build(elf), sections, text);
    }

    private static ElfSymbol Only(ElfSymbols elf, string name) => elf.Named(name).Single();

    [Test]
    public void Symbols_HaveTheirValueSizeAndKind_AndUndefinedFileAndSectionSymbolsAreLeftOut()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build().File);

        Assert.Multiple(() =>
        {
            Assert.That(elf.HasSymbolTable, Is.True);
            Assert.That(elf.Symbols.Select(s => s.Name), Is.EqualTo(new[] { "KERNBASE", "start", "helper", "helper_ret", "vector0", "counter", "edata" }),
                "by address; undefined, file and section symbols have no address of their own");
            Assert.That(Only(elf, "start"), Is.EqualTo(new ElfSymbol("start", TextVirtual, 10, ElfSymbolKind.Function, ElfSymbolBinding.Global, 1, true)));
            Assert.That(Only(elf, "helper").Binding, Is.EqualTo(ElfSymbolBinding.Local));
            Assert.That(Only(elf, "counter"), Is.EqualTo(new ElfSymbol("counter", DataVirtual + 8, 4, ElfSymbolKind.Object, ElfSymbolBinding.Global, 2, false)));
            Assert.That(Only(elf, "KERNBASE").SectionIndex, Is.Null, "SHN_ABS");
            Assert.That(elf.Named("cprintf"), Is.Empty);
            Assert.That(elf.Sections.Select(s => s.Name), Is.EqualTo(new[] { "", ".text", ".data", ".symtab", ".strtab", ".shstrtab" }));
        });
    }

    [Test]
    public void CodeSymbols_AreFunctionsAndLabelsAmongInstructions_NotDataLabelsObjectsOrAbsolutes()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build().File);
        Assert.That(elf.CodeSymbols.Select(s => s.Name), Is.EqualTo(new[] { "start", "helper", "helper_ret", "vector0" }));
    }

    [Test]
    public void Segments_AreFoundByVirtualAddress_AndGiveTheFilesBytes()
    {
        Sample sample = Build();
        ElfSymbols elf = ElfSymbols.Parse(sample.File);

        Assert.Multiple(() =>
        {
            Assert.That(elf.Segments, Has.Count.EqualTo(2));
            Assert.That(elf.SegmentAt(TextVirtual + 5)?.PhysicalAddress, Is.EqualTo(TextPhysical));
            Assert.That(elf.SegmentAt(DataVirtual + 0xFFF)?.Writable, Is.True, "bss is part of the segment");
            Assert.That(elf.SegmentAt(DataVirtual + 0x1000), Is.Null);
            Assert.That(elf.SegmentAt(TextPhysical), Is.Null, "by virtual address, not physical");
            Assert.That(elf.BytesAt(TextVirtual + 4).ToArray(), Is.EqualTo(sample.Text[4..]));
            Assert.That(elf.BytesAt(DataVirtual + 0x40).IsEmpty, Is.True, "bss has no file bytes");
            Assert.That(elf.BytesAt(0x1234).IsEmpty, Is.True);
        });
    }

    [Test]
    public void SpanEnd_IsValuePlusSize_OrForASizelessSymbolTheNextSymbolOrTheSectionsEnd()
    {
        Sample sample = Build();
        ElfSymbols elf = ElfSymbols.Parse(sample.File);

        Assert.Multiple(() =>
        {
            Assert.That(elf.SpanEnd(Only(elf, "start")), Is.EqualTo(TextVirtual + 10));
            Assert.That(elf.SpanEnd(Only(elf, "helper_ret")), Is.EqualTo(TextVirtual + 0x20), "up to vector0");
            Assert.That(elf.SpanEnd(Only(elf, "vector0")), Is.EqualTo(TextVirtual + sample.Text.Length), "up to the end of .text");
            Assert.That(elf.SpanEnd(Only(elf, "edata")), Is.EqualTo(DataVirtual + 0x40), "at the end of its section: empty");
        });
    }

    [Test]
    public void CodeSymbolAt_IsTheNearestSymbolWhoseSpanHoldsTheAddress()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build().File);

        Assert.Multiple(() =>
        {
            Assert.That(elf.CodeSymbolAt(TextVirtual + 8)?.Name, Is.EqualTo("start"));
            Assert.That(elf.CodeSymbolAt(TextVirtual + 9)?.Name, Is.EqualTo("start"), "start's last byte");
            Assert.That(elf.CodeSymbolAt(TextVirtual + 10), Is.Null, "the first byte after start's 10: padding");
            Assert.That(elf.CodeSymbolAt(TextVirtual + 0x12)?.Name, Is.EqualTo("helper"));
            Assert.That(elf.CodeSymbolAt(TextVirtual + 0x16)?.Name, Is.EqualTo("helper_ret"), "the label nests in helper; the nearest wins");
            Assert.That(elf.CodeSymbolAt(TextVirtual + 0x21)?.Name, Is.EqualTo("vector0"));
            Assert.That(elf.CodeSymbolAt(DataVirtual + 8), Is.Null, "objects are not code");
            Assert.That(elf.CodeSymbolStartingAt(TextVirtual + 0x10)?.Name, Is.EqualTo("helper"));
            Assert.That(elf.CodeSymbolStartingAt(TextVirtual + 0x11), Is.Null);
        });
    }

    [Test]
    public void SeveralNamesAtOneAddress_TheGlobalFunctionComesFirst()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build(b => b
            .Label("alias_label", TextVirtual + 0x10)
            .Function("helper_weak", TextVirtual + 0x10, 0x10, binding: BindWeak)
            .Function("helper_global", TextVirtual + 0x10, 0x10)).File);

        Assert.Multiple(() =>
        {
            Assert.That(elf.CodeSymbolStartingAt(TextVirtual + 0x10)?.Name, Is.EqualTo("helper_global"));
            Assert.That(elf.CodeSymbolAt(TextVirtual + 0x11)?.Name, Is.EqualTo("helper_global"));
            Assert.That(elf.CodeSymbols.Where(s => s.Value == TextVirtual + 0x10).Select(s => s.Name),
                Is.EqualTo(new[] { "helper_global", "helper_weak", "helper", "alias_label" }));
        });
    }

    [Test]
    public void SameNameInTwoFiles_BothAreFound()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build(b => b.Function("start", TextVirtual + 0x20, 4, binding: BindLocal)).File);
        Assert.That(elf.Named("start").Select(s => s.Value), Is.EqualTo(new[] { TextVirtual, TextVirtual + 0x20 }));
    }

    [Test]
    public void StrippedImage_HasSegmentsButNoSymbols()
    {
        ElfSymbols elf = ElfSymbols.Parse(Build(stripped: true).File);
        Assert.Multiple(() =>
        {
            Assert.That(elf.HasSymbolTable, Is.False);
            Assert.That(elf.Symbols, Is.Empty);
            Assert.That(elf.Sections.Select(s => s.Name), Is.EqualTo(new[] { "", ".text", ".data", ".shstrtab" }));
            Assert.That(elf.Segments, Has.Count.EqualTo(2));
        });
    }

    [Test]
    public void ImageWithoutSectionHeaders_HasNoSymbols()
    {
        ElfSymbols elf = ElfSymbols.Parse(Typical().Build());
        Assert.That(elf.Sections, Is.Empty);
        Assert.That(elf.HasSymbolTable, Is.False);
        Assert.That(elf.Segments.Select(s => s.VirtualAddress), Is.EqualTo(new[] { 0x100000u, 0x102000u }));
    }

    [Test]
    public void ExtendedSectionNumbering_CountAndNamesIndexComeFromSectionZero()
    {
        Sample sample = Build();
        byte[] file = sample.File;
        int count = BitConverter.ToUInt16(file, OffsetOfShNum);
        Put32(file, sample.Sections.SectionHeaderAt(0) + ShSize, (uint)count);
        Put32(file, sample.Sections.SectionHeaderAt(0) + ShLink, (uint)sample.Sections.SectionNamesIndex);
        Put16(file, OffsetOfShNum, 0);
        Put16(file, OffsetOfShStrIndex, 0xFFFF);

        ElfSymbols elf = ElfSymbols.Parse(file);
        Assert.That(elf.Sections, Has.Count.EqualTo(count));
        Assert.That(elf.Sections[1].Name, Is.EqualTo(".text"));
        Assert.That(elf.Named("start"), Has.Count.EqualTo(1));
    }

    public static IEnumerable<TestCaseData> BadImages()
    {
        yield return Bad("empty", [], "empty");
        yield return Bad("not ELF", Mutated(s => s.File[1] = (byte)'X'), "not an ELF file");
        yield return Bad("truncated ELF header", Build().File[..40], "truncated ELF header");
        yield return Bad("ELF64", Mutated(s => { s.File[OffsetOfClass] = 2; Put16(s.File, OffsetOfMachine, 62); }), "64-bit");
        yield return Bad("unknown class", Mutated(s => s.File[OffsetOfClass] = 7), "unknown ELF class 7");
        yield return Bad("big-endian", Mutated(s => s.File[OffsetOfData] = 2), "big-endian");
        yield return Bad("wrong machine", Mutated(s => Put16(s.File, OffsetOfMachine, 40)), "ELF machine 40 is not i386");
        yield return Bad("relocatable object", Mutated(s => Put16(s.File, OffsetOfType, 1)), "relocatable object");
        yield return Bad("core file", Mutated(s => Put16(s.File, OffsetOfType, 4)), "ELF type 4");
        yield return Bad("no program headers", Mutated(s => Put16(s.File, OffsetOfPhNum, 0)), "no program headers");
        yield return Bad("truncated program headers", Mutated(s => Put32(s.File, OffsetOfPhOffset, 0xFFFFFFF0)), "truncated program headers");
        yield return Bad("segment data past the end", Mutated(s => Put32(s.File, ProgramHeaderAt(0) + 4, 0xFFFFFF00)), "truncated segment data");
        yield return Bad("filesz above memsz", Mutated(s => Put32(s.File, ProgramHeaderAt(1) + 20, 0x10)), "p_filesz");
        yield return Bad("segment past 4 GiB", Mutated(s => Put32(s.File, ProgramHeaderAt(1) + 20, 0x0FFF_F000)), "past 4 GiB");

        yield return Bad("truncated section headers", Cut(s => s.Sections.SectionHeaderAt(3) + 10), "truncated section headers");
        yield return Bad("section headers past the end", Mutated(s => Put32(s.File, ElfSectionBuilder.OffsetOfShOffset, 0xFFFFFF00)), "truncated section headers");
        yield return Bad("too many section headers", Mutated(s => Put16(s.File, OffsetOfShNum, 0xFEFF)), "truncated section headers");
        yield return Bad("wrong section header size", Mutated(s => Put16(s.File, OffsetOfShEntrySize, 64)), "section header entries are 64 bytes");
        yield return Bad("section-name table index out of range", Mutated(s => Put16(s.File, OffsetOfShStrIndex, 40)), "e_shstrndx 40");
        yield return Bad("section-name table past the end", MutatedSection(s => s.SectionNamesIndex, ShOffset, 0x7FFF_FFFF), "section-name string table");
        yield return Bad("section name past its table", MutatedSection(_ => 1, ShName, 0x5000), "section 1's name at offset 0x5000 is past the end");

        yield return Bad("string table offset out of range", MutatedSection(s => s.StringTableIndex, ShOffset, 0xFFFF_FF00), "the symbol string table, section 4 (.strtab), needs file bytes 0xffffff00-");
        yield return Bad("string table longer than the file", MutatedSection(s => s.StringTableIndex, ShSize, 0x100000), "symbol string table");
        yield return Bad("symbol name past the string table", MutatedSymbol(1, 0, 0x9999), "symbol 1's name at offset 0x9999 is past the end of the symbol string table (");
        yield return Bad("symbol name with no NUL", Mutated(s =>
        {
            // Symbol 1's name becomes the last character of the table, whose NUL is cut off.
            int header = s.Sections.SectionHeaderAt(s.Sections.StringTableIndex);
            uint size = BitConverter.ToUInt32(s.File, header + ShSize);
            Put32(s.File, header + ShSize, size - 1);
            Put32(s.File, SymbolAt(s, 1), size - 2);
        }), "runs past the end of the symbol string table with no terminating NUL");
        yield return Bad("symbol table past the end", MutatedSection(s => s.SymbolTableIndex, ShOffset, 0xFFFF_FFF0), "the symbol table, section 3 (.symtab), needs file bytes");
        yield return Bad("symbol entry size", MutatedSection(s => s.SymbolTableIndex, ShEntrySize, 24), "symbol entries are 24 bytes");
        yield return Bad("symbol table size", MutatedSection(s => s.SymbolTableIndex, ShSize, 0x33), "not a whole number");
        yield return Bad("string table link out of range", MutatedSection(s => s.SymbolTableIndex, ShLink, 99), "sh_link 99 names no string table");
        yield return Bad("string table link to a non-string section", MutatedSection(s => s.SymbolTableIndex, ShLink, 1), "section 1 (.text), which is not a string table");
        yield return Bad("symbol in a section that does not exist", MutatedSymbol(2, 14, 0x30), "symbol 2 is defined in section 48");
    }

    private static TestCaseData Bad(string name, byte[] image, string messagePart)
        => new TestCaseData(image, messagePart).SetName($"MalformedImage_IsRefusedWithAClearMessage({name})");

    private static byte[] Mutated(Action<Sample> change)
    {
        Sample sample = Build();
        change(sample);
        return sample.File;
    }

    private static byte[] Cut(Func<Sample, int> length)
    {
        Sample sample = Build();
        return sample.File[..length(sample)];
    }

    private static byte[] MutatedSection(Func<ElfSectionBuilder, int> section, int field, uint value)
        => Mutated(s => Put32(s.File, s.Sections.SectionHeaderAt(section(s.Sections)) + field, value));

    /// <summary>The file offset of symbol <paramref name="index"/>'s entry in .symtab.</summary>
    private static int SymbolAt(Sample s, int index)
        => (int)BitConverter.ToUInt32(s.File, s.Sections.SectionHeaderAt(s.Sections.SymbolTableIndex) + ShOffset) + index * SymbolBytes;

    /// <summary>Changes symbol <paramref name="index"/>'s st_name (field 0, 32 bits) or st_shndx (field 14, 16 bits).</summary>
    private static byte[] MutatedSymbol(int index, int field, uint value) => Mutated(s =>
    {
        int at = SymbolAt(s, index) + field;
        if (field == 14)
            Put16(s.File, at, (ushort)value);
        else
            Put32(s.File, at, value);
    });

    [TestCaseSource(nameof(BadImages))]
    public void MalformedImage_IsRefusedWithAClearMessage(byte[] image, string messagePart)
    {
        var e = Assert.Throws<InvalidImageException>(() => ElfSymbols.Parse(image));
        Assert.That(e!.Message, Does.Contain(messagePart));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void EveryTruncation_IsRefusedCleanly()
    {
        byte[] file = Build().File;
        for (int length = 0; length < file.Length; length++)
        {
            byte[] cut = file[..length];
            Assert.Throws<InvalidImageException>(() => ElfSymbols.Parse(cut), $"cut to {length} of {file.Length} bytes");
        }
    }

    [Test]
    public void CorruptingAnyByte_GivesAnImageOrAClearRefusal()
    {
        byte[] file = Build().File;
        foreach (byte value in new byte[] { 0x00, 0x01, 0x7F, 0x80, 0xFF })
        {
            for (int at = 0; at < file.Length; at++)
            {
                byte[] bad = (byte[])file.Clone();
                bad[at] = value;
                try
                {
                    ElfSymbols elf = ElfSymbols.Parse(bad);
                    foreach (ElfSymbol s in elf.Symbols)
                    {
                        elf.SpanEnd(s);
                        elf.CodeSymbolAt(s.Value);
                        elf.BytesAt(s.Value);
                    }
                }
                catch (InvalidImageException)
                {
                }
                catch (Exception e)
                {
                    Assert.Fail($"byte {at} set to 0x{value:x2}: {e.GetType().Name}: {e.Message}");
                }
            }
        }
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using MiniHv.Hv.Loader;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Loader;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv disasm</c> on the JOS-style kernel and a user program as built by the test build. Nothing
/// here hardcodes an address: each is taken from the symbol table and the listing is checked against it.
/// </summary>
public partial class DisasmCommandTests
{
    private const string HelpHint = "Run 'minihv disasm --help' for the options.";

    private static readonly Lazy<ElfSymbols> Jos = new(() => ElfSymbols.Parse(File.ReadAllBytes(TestImages.Jos)));

    private static string UserProgram(string name) => Path.Combine(TestImages.RepositoryRoot, "guests", "build", "user", name + ".elf");

    /// <summary>An instruction line: address, then (with --bytes) up to seven bytes, then the instruction.</summary>
    private sealed record Line(uint Address, byte[] Bytes, string Text);

    [GeneratedRegex(@"^([0-9a-f]{8}):  (.*)$")]
    private static partial Regex InstructionLine();

    [GeneratedRegex(@"^([0-9a-f]{8}) <([^>]+)>:$")]
    private static partial Regex HeaderLine();

    private static CliResult Disasm(params string[] args) => CliRun.InProcess(["disasm", .. args]);

    /// <summary>The instruction lines of a listing; with --bytes a long instruction's continuation bytes join it.</summary>
    private static List<Line> Instructions(string output, bool withBytes)
    {
        var lines = new List<Line>();
        foreach (string line in output.Split('\n'))
        {
            Match m = InstructionLine().Match(line);
            if (!m.Success)
                continue;
            uint address = uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            string rest = m.Groups[2].Value;
            if (!withBytes)
            {
                lines.Add(new Line(address, [], rest));
                continue;
            }

            byte[] bytes = Convert.FromHexString(rest[..Math.Min(rest.Length, 20)].Replace(" ", ""));
            if (rest.Length <= 20)
                lines[^1] = lines[^1] with { Bytes = [.. lines[^1].Bytes, .. bytes] };  // continuation of the line above
            else
                lines.Add(new Line(address, bytes, rest[22..]));
        }

        return lines;
    }

    private static List<(uint Address, string Name)> Headers(string output)
        => output.Split('\n').Select(l => HeaderLine().Match(l)).Where(m => m.Success)
            .Select(m => (uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), m.Groups[2].Value))
            .ToList();

    /// <summary>One "minihv: ..." line, followed at most by the hint every command prints after a bad option.</summary>
    private static void AssertOneError(CliResult r, int status, string messagePart)
    {
        Assert.That(r.Status, Is.EqualTo(status), r.ToString);
        CliRun.AssertCleanError(r);
        string[] lines = r.Error.TrimEnd().Split('\n');
        Assert.That(lines[0], Does.Contain(messagePart), r.ToString);
        Assert.That(lines.Skip(1), Is.Empty.Or.EqualTo(new[] { HelpHint }), r.ToString);
        Assert.That(r.Output, Is.Empty);
    }

    [Test]
    public void Symbol_ListsTheFunctionFromItsValue_ToExactlyValuePlusSize_WithTheFilesBytes()
    {
        ElfSymbol init = Jos.Value.Named("i386_init").Single();
        Assume.That(init.Size, Is.GreaterThan(0u), "gcc gives C functions their size");

        var r = Disasm(TestImages.Jos, "--symbol", "i386_init", "--bytes");

        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        List<Line> lines = Instructions(r.Output, withBytes: true);
        Assert.Multiple(() =>
        {
            Assert.That(r.Output, Does.StartWith($"{init.Value:x8} <i386_init>:\n"));
            Assert.That(lines[0].Address, Is.EqualTo(init.Value));
            Assert.That(lines.All(l => l.Address < init.Value + init.Size), Is.True, "nothing at or past value + size");
            Assert.That(lines[^1].Address + lines[^1].Bytes.Length, Is.EqualTo(init.Value + init.Size), "the last instruction ends the function");
            for (int i = 1; i < lines.Count; i++)
                Assert.That(lines[i].Address, Is.EqualTo(lines[i - 1].Address + lines[i - 1].Bytes.Length), $"line {i} follows line {i - 1}");
            foreach (Line l in lines)
                Assert.That(l.Bytes, Is.EqualTo(Jos.Value.BytesAt(l.Address)[..l.Bytes.Length].ToArray()), $"bytes at {l.Address:x8}");
            Assert.That(r.Error, Is.Empty);
        });
    }

    [Test]
    public void Calls_NameTheFunctionTheyCall()
    {
        // kern/init.c: i386_init begins with cons_init(); cprintf(...).
        var r = Disasm(TestImages.Jos, "--symbol", "i386_init");

        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        foreach (string callee in new[] { "cons_init", "cprintf" })
            Assert.That(r.Output, Does.Contain($"call   {Jos.Value.Named(callee).Single().Value:x} <{callee}>"));
        Assert.That(Instructions(r.Output, withBytes: false).Where(l => l.Text.StartsWith("j", StringComparison.Ordinal)).Select(l => l.Text),
            Has.Some.Match(@"^j\w+ +[0-9a-f]+ <i386_init\+0x[0-9a-f]+>$"), "a branch inside the function names its offset");
    }

    [Test]
    public void IntelSyntax_SpellsTheSameInstructionsTheIntelWay()
    {
        var gas = Disasm(TestImages.Jos, "--symbol", "i386_init");
        var intel = Disasm(TestImages.Jos, "--symbol", "i386_init", "--syntax", "intel");

        Assert.That(intel.Status, Is.EqualTo(0), intel.ToString);
        List<Line> g = Instructions(gas.Output, false), i = Instructions(intel.Output, false);
        Assert.Multiple(() =>
        {
            Assert.That(i.Select(l => l.Address), Is.EqualTo(g.Select(l => l.Address)));
            Assert.That(g.Select(l => l.Text), Has.Some.Contain("%"), "AT&T registers");
            Assert.That(i.Select(l => l.Text), Has.None.Contain("%"));
            Assert.That(i.Select(l => l.Text), Has.Some.Contain("dword ptr ["));
            Assert.That(i.Select(l => l.Text), Has.None.Match(@"\b[0-9a-f]+h\b"), "hex as objdump -M intel spells it, 0xf0104e40");
            Assert.That(intel.Output, Does.Contain($"call   {Jos.Value.Named("cprintf").Single().Value:x} <cprintf>"));
        });
    }

    [TestCase("masm")]
    [TestCase("nasm")]
    [TestCase("gas")]
    public void EverySyntax_ListsTheSameAddresses(string syntax)
    {
        var gas = Disasm(TestImages.Jos, "--symbol", "i386_init");
        var other = Disasm(TestImages.Jos, "--symbol", "i386_init", "--syntax", syntax);
        Assert.That(other.Status, Is.EqualTo(0), other.ToString);
        Assert.That(Instructions(other.Output, false).Select(l => l.Address), Is.EqualTo(Instructions(gas.Output, false).Select(l => l.Address)));
    }

    [TestCase("{0:x}")]
    [TestCase("0x{0:x}")]
    [TestCase("0X{0:X}")]
    public void Address_WithCount3_PrintsThreeInstructionsFromThere(string spelling)
    {
        List<Line> function = Instructions(Disasm(TestImages.Jos, "--symbol", "i386_init").Output, false);
        uint start = function[1].Address;
        ElfSymbol init = Jos.Value.Named("i386_init").Single();

        var r = Disasm(TestImages.Jos, "--address", string.Format(CultureInfo.InvariantCulture, spelling, start), "--count", "3");

        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(Instructions(r.Output, false).Select(l => (l.Address, l.Text)), Is.EqualTo(function.Skip(1).Take(3).Select(l => (l.Address, l.Text))));
        Assert.That(Headers(r.Output), Is.EqualTo(new[] { (start, $"i386_init+0x{start - init.Value:x}") }));
    }

    [Test]
    public void Address_WithoutCount_Prints20Instructions()
    {
        var r = Disasm(TestImages.Jos, "--address", $"{Jos.Value.Named("i386_init").Single().Value:x}");
        Assert.That(Instructions(r.Output, false), Has.Count.EqualTo(20), r.ToString);
    }

    [Test]
    public void Address_RunningIntoTheNextFunction_NamesItWhereItStarts()
    {
        // A function that the next one follows without alignment padding (which of them depends on the build).
        ElfSymbols elf = Jos.Value;
        var (init, next) = elf.Symbols
            .Where(f => f.Kind == ElfSymbolKind.Function && f.Size > 0 && elf.SegmentAt(f.Value) is { Executable: true })
            .OrderBy(f => f.Value)
            .Select(f => (Function: f, Next: elf.CodeSymbolStartingAt(f.Value + f.Size)))
            .First(p => p.Next is { Kind: ElfSymbolKind.Function } && elf.Named(p.Function.Name).Count() == 1);
        uint last = Instructions(Disasm(TestImages.Jos, "--symbol", init.Name).Output, false)[^1].Address;

        var r = Disasm(TestImages.Jos, "--address", $"{last:x}", "--count", "2");

        Assert.That(Headers(r.Output).Select(h => h.Name), Is.EqualTo(new[] { $"{init.Name}+0x{last - init.Value:x}", next!.Name }), r.ToString);
        Assert.That(Instructions(r.Output, false)[1].Address, Is.EqualTo(next.Value));
    }

    [Test]
    public void NoOption_ListsEveryFunction_InAddressOrder()
    {
        var r = Disasm(TestImages.Jos);

        Assert.That(r.Status, Is.EqualTo(0), r.Error);
        List<(uint Address, string Name)> headers = Headers(r.Output);
        ElfSymbols elf = Jos.Value;
        var functions = elf.Symbols.Where(s => s.Kind == ElfSymbolKind.Function && elf.SegmentAt(s.Value) is { Executable: true }).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(r.Output, Does.Contain($"\n{elf.Named("i386_init").Single().Value:x8} <i386_init>:\n"));
            Assert.That(headers.Select(h => h.Address), Is.Ordered.Ascending.And.Unique);
            Assert.That(functions.Select(f => f.Value).Distinct(), Is.SubsetOf(headers.Select(h => h.Address)), "every function has its listing");
            Assert.That(headers.Select(h => h.Name).Intersect(elf.Symbols.Where(s => s.Kind == ElfSymbolKind.Object).Select(s => s.Name)), Is.Empty,
                "objects are data, not listed");
            Assert.That(Instructions(r.Output, false).Select(l => l.Address), Is.Ordered.Ascending.And.Unique);
        });
    }

    [Test]
    public void UserProgram_IsListedAtItsLinkAddress()
    {
        string hello = UserProgram("hello");
        ElfSymbol umain = ElfSymbols.Parse(File.ReadAllBytes(hello)).Named("umain").Single();

        var r = Disasm(hello, "--symbol", "umain");

        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(Instructions(r.Output, false)[0].Address, Is.EqualTo(umain.Value));
        Assert.That(r.Output, Does.Match(@"(call|jmp) +[0-9a-f]+ <\w+>"), "umain calls into the user library");
    }

    [Test]
    public void UnknownSymbol_SuggestsTheClosestName_AndStatus2()
        => AssertOneError(Disasm(TestImages.Jos, "--symbol", "i386_int"), 2, $"no symbol 'i386_int' in {TestImages.Jos}; did you mean 'i386_init'?");

    [Test]
    public void UnknownSymbol_LikeNothing_SuggestsNothing()
    {
        var r = Disasm(TestImages.Jos, "--symbol", "qqqqqqqqqqqq");
        AssertOneError(r, 2, "no symbol 'qqqqqqqqqqqq'");
        Assert.That(r.Error, Does.Not.Contain("did you mean"));
    }

    [Test]
    public void DataObject_IsNotDisassembledByName_AndStatus2()
    {
        ElfSymbol data = Jos.Value.Symbols.First(s => s.Kind == ElfSymbolKind.Object && Jos.Value.Named(s.Name).All(same => !same.IsCode));
        AssertOneError(Disasm(TestImages.Jos, "--symbol", data.Name), 2, $"'{data.Name}' is not code but a data object at {data.Value:x8}");
    }

    [Test]
    public void AddressOutsideEverySegment_SaysWhatIsLoaded_AndStatus2()
        => AssertOneError(Disasm(TestImages.Jos, "--address", "10"), 2, "address 00000010 is outside every loaded segment (");

    [Test]
    public void PhysicalAddressOfAHighLinkedKernel_NamesTheVirtualOne()
    {
        ElfSymbol init = Jos.Value.Named("i386_init").Single();
        ElfSegment text = Jos.Value.SegmentAt(init.Value)!.Value;
        Assume.That(text.PhysicalAddress, Is.Not.EqualTo(text.VirtualAddress), "JOS is linked at KERNBASE and loaded at 1 MiB");
        uint physical = init.Value - text.VirtualAddress + text.PhysicalAddress;

        AssertOneError(Disasm(TestImages.Jos, "--address", $"{physical:x}"), 2, $"it is the physical address of virtual {init.Value:x8}");
    }

    [Test]
    public void AddressInBss_HasNoCode_AndStatus2()
    {
        ElfSegment data = Jos.Value.Segments.First(s => s.MemorySize > s.FileSize);
        AssertOneError(Disasm(TestImages.Jos, "--address", $"{data.FileEnd:x}"), 2, "zero-filled bss");
    }

    [Test]
    public void MissingImage_NamesThePath_AndStatus4()
        => AssertOneError(Disasm("/no/such/kernel.elf", "--symbol", "i386_init"), 4, "cannot read image '/no/such/kernel.elf'");

    public static IEnumerable<TestCaseData> NotElf32I386()
    {
        byte[] elf64 = MultibootElfBuilder.Typical().Build();
        elf64[MultibootElfBuilder.OffsetOfClass] = 2;
        yield return new TestCaseData(elf64, "64-bit ELF file").SetName("NotElf32I386_Status4(ELF64)");
        byte[] arm = MultibootElfBuilder.Typical().Build();
        MultibootElfBuilder.Put16(arm, MultibootElfBuilder.OffsetOfMachine, 40);
        yield return new TestCaseData(arm, "ELF machine 40 is not i386").SetName("NotElf32I386_Status4(ARM)");
        yield return new TestCaseData("#!/bin/sh\necho hello\n"u8.ToArray(), "not an ELF file").SetName("NotElf32I386_Status4(script)");
        byte[] sections = new ElfSectionBuilder().Function("f", 0x100000, 4).Build(MultibootElfBuilder.Typical().Build());
        yield return new TestCaseData(sections[..^20], "truncated section headers").SetName("NotElf32I386_Status4(truncated section headers)");
    }

    [TestCaseSource(nameof(NotElf32I386))]
    public void NotElf32I386_Status4(byte[] image, string messagePart)
    {
        string path = CliRun.TempFile(image);
        var r = Disasm(path);
        AssertOneError(r, 4, $"{path}: {messagePart}");
        Assert.That(r.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void StrippedImage_HasNoSymbolsToName_ButAnAddressStillWorks()
    {
        string path = CliRun.TempFile(MultibootElfBuilder.Typical().Build());

        AssertOneError(Disasm(path, "--symbol", "main"), 4, "has no symbol table (.symtab)");
        AssertOneError(Disasm(path), 4, "has no symbol table (.symtab)");
        var r = Disasm(path, "--address", "100000", "--count", "2");
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        List<Line> lines = Instructions(r.Output, false);
        Assert.That(lines, Has.Count.EqualTo(2));
        Assert.That(lines[0].Address, Is.EqualTo(0x100000u));
        Assert.That(Headers(r.Output), Is.Empty, "no symbol to name");
    }

    [TestCase("--syntax att", "--syntax 'att': gas, intel, masm or nasm")]
    [TestCase("--symbol i386_init --address f0100000", "--symbol and --address cannot be used together")]
    [TestCase("--address xyz", "--address 'xyz': give a hexadecimal virtual address")]
    [TestCase("--address 1f0100000", "--address '1f0100000'")]
    [TestCase("--address f01000 --count 0", "--count must be from 1 to")]
    [TestCase("--count 5", "--count needs --symbol or --address")]
    [TestCase("--frobnicate", "--frobnicate")]
    public void BadOption_GivesAClearMessage_AndStatus2(string options, string messagePart)
        => AssertOneError(Disasm([TestImages.Jos, .. options.Split(' ')]), 2, messagePart);

    [Test]
    public void NoImage_SaysSo_AndStatus2()
    {
        var r = Disasm();
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv run --fault-log</c> on the JOS-style fault programs: the log holds exactly the page faults the
/// guest took, with the CR2, EIP and error code its own fault report (or upcall) printed, and every line is JSON.
/// </summary>
public class FaultLogCommandTests
{
    /// <summary>(eip, cr2, error code) of every page fault the golden transcript shows the guest taking.</summary>
    private static List<(uint Eip, uint Cr2, int Err)> FaultsInTranscript(string program)
    {
        string t = TestImages.Golden("jos", program);
        var faults = new List<(uint, uint, int)>();
        static uint Hex(string s) => uint.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        foreach (Match m in Regex.Matches(t, @"trap 0x0000000e Page Fault\n  err  0x(\w+) .*\n  eip  0x(\w+)\n  cr2  0x(\w+)"))
            faults.Add((Hex(m.Groups[2].Value), Hex(m.Groups[3].Value), (int)Hex(m.Groups[1].Value)));
        foreach (Match m in Regex.Matches(t, @"caught a fault: va (\w+), err (\d+) .*eip (\w+)"))
            faults.Add((Hex(m.Groups[3].Value), Hex(m.Groups[1].Value), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
        foreach (Match m in Regex.Matches(t, @"null pointer exception at eip (\w+): read of address (\w+)"))
            faults.Add((Hex(m.Groups[1].Value), Hex(m.Groups[2].Value), 4));
        return faults;
    }

    private static List<JsonElement> Events(string path)
        => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [TestCase("faultread")]
    [TestCase("faultwrite")]
    [TestCase("faultkernel")]
    [TestCase("stackguard")]
    [TestCase("nullptr")]
    public void FaultProgram_LogsExactlyTheFaultsItTook(string program)
    {
        string log = CliRun.TempFile([], $"{program}.json");
        var r = CliRun.InProcess(["run", TestImages.Jos, "--append", $"prog={program}", "-m", "64M", "--fault-log", log]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("jos", program)), "logging changes nothing the guest sees");

        var expected = FaultsInTranscript(program);
        Assert.That(expected, Is.Not.Empty);
        List<JsonElement> events = Events(log);
        var logged = events.Select(e => (e.GetProperty("Eip").GetUInt32(), e.GetProperty("Cr2").GetUInt32(), e.GetProperty("ErrorCode").GetInt32())).ToList();
        Assert.That(logged, Is.EquivalentTo(expected));
        foreach (JsonElement e in events)
        {
            int err = e.GetProperty("ErrorCode").GetInt32();
            Assert.That(e.GetProperty("Kind").GetString(), Is.EqualTo("page_fault"));
            Assert.That(e.GetProperty("Guest").GetString(), Is.EqualTo("jos"));
            Assert.That(e.GetProperty("Cpl").GetInt32(), Is.EqualTo(3));
            Assert.That(e.GetProperty("PfPresent").GetBoolean(), Is.EqualTo((err & 1) != 0));
            Assert.That(e.GetProperty("PfWrite").GetBoolean(), Is.EqualTo((err & 2) != 0));
            Assert.That(e.GetProperty("PfUser").GetBoolean(), Is.EqualTo((err & 4) != 0));
            Assert.That(e.GetProperty("HandledBy").GetString(), Is.EqualTo("guest"));
            Assert.That(e.GetProperty("Disassembly").GetString(), Is.Not.Empty, "the faulting instruction, disassembled");
        }
    }

    [Test]
    public void HiddenFaults_AreLoggedOnlyWhenAsked_AndCountedAlways()
    {
        string quiet = CliRun.TempFile([], "quiet.json");
        string loud = CliRun.TempFile([], "loud.json");
        CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=forktree", "-m", "64M", "--fault-log", quiet]);
        var r = CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=forktree", "-m", "64M", "--fault-log", loud, "--log-hidden", "all"]);
        Assert.That(r.Status, Is.EqualTo(1));
        var kinds = Events(loud).GroupBy(e => e.GetProperty("Kind").GetString()).ToDictionary(g => g.Key!, g => g.Count());
        Assert.That(Events(quiet).Select(e => e.GetProperty("Kind").GetString()), Has.All.EqualTo("page_fault"), "no hidden faults by default");
        Assert.That(kinds.Keys, Is.SupersetOf(new[] { "page_fault", "zero_frame_break", "page_table_write" }));
        Assert.That(Events(loud).Where(e => e.GetProperty("Kind").GetString() != "page_fault")
            .Select(e => e.GetProperty("HandledBy").GetString()), Has.All.EqualTo("hypervisor"));
        Assert.That(kinds["page_fault"], Is.EqualTo(Events(quiet).Count), "the same guest faults either way");
    }

    [Test]
    public void Faults_PrintsAHumanLinePerFault_OnStderr()
    {
        var r = CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=faultread", "-m", "64M", "--faults"]);
        Assert.That(r.Error, Does.Contain("[jos] #PF at eip 00800022: read of unmapped 00000000 (user, not-present)"));
        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("jos", "faultread")));
    }

    [Test]
    public void DumpPt_ShowsTheGuestsPageTables_WithTheirBacking()
    {
        var r = CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=hello", "-m", "64M", "--dump-pt"]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Error, Does.Contain("[jos] page tables at cr3"));
        Assert.That(r.Error, Does.Match(@"f0100000-\w+ +\d+ KiB +\S+ +00100000-\w+ +private"), "the kernel text at KERNBASE + 1 MiB");
        Assert.That(r.Error, Does.Contain("zero"), "untouched RAM mapped at KERNBASE is still the zero frame");
    }

    [Test]
    public void BadLogHiddenRule_IsRefused()
    {
        var r = CliRun.InProcess(["run", TestImages.Jos, "--log-hidden", "sometimes"]);
        Assert.That(r.Status, Is.EqualTo(2));
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain("--log-hidden 'sometimes'"));
    }
}

using System.Text.Json;
using MiniHv.Tests.Cli;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Overcommit;

/// <summary><c>minihv run --machine-memory --swap --swap-size --keep-swap</c>, the config file's keys, and what --stats and report show.</summary>
public class MachineMemoryOptionTests
{
    private const string Append = "prog=lazyalloc lazyalloc.pages=2048";

    private static string TempPath(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "minihv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    [TestCase("3M", "the machine has from 4 MiB")]
    [TestCase("12Q", "--machine-memory '12Q'")]
    [TestCase("4097K", "a whole number of 4 KiB frames")]
    public void ABadMachineMemory_IsOneClearLine(string size, string message)
    {
        CliResult r = CliRun.InProcess(["run", TestImages.Jos, "--machine-memory", size]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(message));
    }

    [TestCase("--swap", "/tmp/never-written.swap")]
    [TestCase("--swap-size", "64M")]
    [TestCase("--keep-swap", null)]
    [TestCase("--balloon", "on")]
    public void SwapOptions_WithoutMachineMemory_AreRefused(string option, string? value)
    {
        string[] args = value == null ? ["run", TestImages.Jos, option] : ["run", TestImages.Jos, option, value];
        CliResult r = CliRun.InProcess(args);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain($"{option} needs --machine-memory"));
    }

    [Test]
    public void ASwapFileThatCannotBeCreated_IsOneClearLine()
    {
        CliResult r = CliRun.InProcess(["run", TestImages.Jos, "--machine-memory", "8M", "--swap", "/nonexistent-dir/x/swap"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain("--swap '/nonexistent-dir/x/swap'"));
    }

    [Test]
    public void TwoGuestsOf64MiB_In8MiB_FinishWithEveryWordRight_AndTheStatsAndReportShowTheSwap()
    {
        string swap = TempPath("kept.swap");
        string stats = TempPath("stats.json");
        CliResult r = CliRun.InProcess(["run", TestImages.Jos, "--count", "2", "-m", "64M", "--append", Append, "--deterministic",
            "--status", "off", "--machine-memory", "8M", "--swap", swap, "--keep-swap", "--stats", stats]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("[jos-1] lazyalloc: read back 2048 words: 0 wrong"));
        Assert.That(r.Serial, Does.Contain("[jos-2] lazyalloc: read back 2048 words: 0 wrong"));
        Assert.That(File.Exists(swap), Is.True, "--keep-swap keeps the file");

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement o = doc.RootElement.GetProperty("overcommit");
        Assert.Multiple(() =>
        {
            Assert.That(o.GetProperty("machine_frames").GetInt64(), Is.EqualTo(2048));
            Assert.That(o.GetProperty("swapped_out").GetInt64(), Is.GreaterThan(1000));
            Assert.That(o.GetProperty("swapped_in").GetInt64(), Is.GreaterThan(100));
            Assert.That(o.GetProperty("major_hidden_faults").GetInt64(), Is.EqualTo(o.GetProperty("swapped_in").GetInt64()));
            Assert.That(o.GetProperty("reclaim_by_source").GetProperty("swap").GetInt64(), Is.EqualTo(o.GetProperty("swapped_out").GetInt64()));
            Assert.That(doc.RootElement.GetProperty("guests")[0].GetProperty("overcommit").GetProperty("swap_ins").GetInt64(), Is.GreaterThan(0));
        });

        CliResult report = CliRun.InProcess(["report", stats]);
        Assert.That(report.Output, Does.Contain("Overcommit (--machine-memory)").And.Contain("swapped_in").And.Contain("swap-ins"), report.ToString);
    }

    [Test]
    public void TheSwapFile_IsDeletedAtExit_UnlessKept_AndTheConfigKeysSayTheSame()
    {
        string swap = TempPath("gone.swap");
        string config = TempPath("run.yaml");
        File.WriteAllText(config, $"machine_memory: 8M\nswap: {swap}\nswap_size: 64M\nguests:\n  - image: {TestImages.Jos}\n    append: \"{Append}\"\n    memory: 64M\n    count: 2\n");
        CliResult r = CliRun.InProcess(["run", "--config", config, "--deterministic", "--status", "off"]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("[jos-2] lazyalloc: read back 2048 words: 0 wrong"));
        Assert.That(File.Exists(swap), Is.False, "deleted at exit");

        File.WriteAllText(config, "machine_memory: 2M\n");
        CliResult bad = CliRun.InProcess(["run", "--config", config, TestImages.Jos]);
        Assert.That(bad.Status, Is.EqualTo(2), bad.ToString);
        CliRun.AssertCleanError(bad);
        Assert.That(bad.Error, Does.Contain("machine_memory '2M': the machine has from 4 MiB"));
    }

    [Test]
    public void Balloons_AreOnByDefaultWithMachineMemory_AndTheStatsAndReportShowThem_WhileOffLeavesThemOut()
    {
        string on = TempPath("balloon-on.json");
        string off = TempPath("balloon-off.json");
        string[] run = ["run", TestImages.Jos, "--count", "2", "-m", "64M", "--append", Append, "--deterministic", "--status", "off", "--machine-memory", "8M"];
        CliResult withBalloons = CliRun.InProcess([.. run, "--stats", on]);
        CliResult without = CliRun.InProcess([.. run, "--balloon", "off", "--stats", off]);
        Assert.That(withBalloons.Status, Is.EqualTo(1), withBalloons.ToString);
        Assert.That(without.Status, Is.EqualTo(1), without.ToString);
        foreach (string name in new[] { "[jos-1]", "[jos-2]" })
        {
            // Each guest's own lines: the driver's instructions may interleave the two guests' lines differently.
            Assert.That(withBalloons.Serial.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal)),
                Is.EqualTo(without.Serial.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal))), $"{name}: the balloons change nothing it prints");
        }

        using JsonDocument a = JsonDocument.Parse(File.ReadAllText(on));
        using JsonDocument b = JsonDocument.Parse(File.ReadAllText(off));
        JsonElement guest = a.RootElement.GetProperty("guests")[0].GetProperty("overcommit");
        Assert.Multiple(() =>
        {
            Assert.That(a.RootElement.GetProperty("overcommit").GetProperty("balloon").GetBoolean(), Is.True);
            Assert.That(a.RootElement.GetProperty("overcommit").GetProperty("reclaim_by_source").GetProperty("balloon").GetInt64(), Is.GreaterThanOrEqualTo(0));
            Assert.That(a.RootElement.GetProperty("guests").EnumerateArray().Sum(g => g.GetProperty("overcommit").GetProperty("balloon_target").GetInt64()),
                Is.GreaterThan(0), "the machine ran short: the balloons were asked for pages");
            Assert.That(guest.GetProperty("active_fraction").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(a.RootElement.GetProperty("guests").EnumerateArray().Sum(g => g.GetProperty("overcommit").GetProperty("balloon_frames_returned").GetInt64()),
                Is.EqualTo(a.RootElement.GetProperty("overcommit").GetProperty("reclaim_by_source").GetProperty("balloon").GetInt64()));
            Assert.That(b.RootElement.GetProperty("overcommit").GetProperty("balloon").GetBoolean(), Is.False);
            Assert.That(b.RootElement.GetProperty("guests")[0].GetProperty("overcommit").GetProperty("balloon_target").ValueKind, Is.EqualTo(JsonValueKind.Null));
        });

        CliResult report = CliRun.InProcess(["report", on]);
        Assert.That(report.Output, Does.Contain("reclaimed_by_balloon").And.Contain("balloon target"), report.ToString);
    }

    [Test]
    public void ABalloonModeThatIsNotOnOrOff_IsRefused()
    {
        CliResult r = CliRun.InProcess(["run", TestImages.Jos, "--machine-memory", "8M", "--balloon", "maybe"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.Contain("maybe"));
    }
}

using System.Text.Json;
using MiniHv.Cli.Experiments.Overcommit;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.Experiments;

/// <summary>
/// <c>minihv experiment overcommit</c> on a tiny sweep (two guests of 8 MiB writing about 5 MiB each, on 16 and 4 MiB):
/// the rows, what each mechanism did, the summary and the charts; and its config's mistakes.
/// </summary>
public class OvercommitExperimentTests
{
    private const string TinySweep = "guests=2\nmemory=8M\nratios=1,4\n"
        + "append=prog=lazyalloc lazyalloc.pages=512 prog=dedupwork dedup.same=32 dedup.zero=16 dedup.unique=512 dedup.rounds=2\n";

    [Test]
    public void Command_WritesTheRows_SwapAndBalloonsWorkAt4x_OnlyThere_AndEveryGuestPrintsTheSame()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"minihv-overcommit-{Guid.NewGuid():N}");
        string config = dir + ".txt";
        File.WriteAllText(config, TinySweep);
        try
        {
            CliResult r = CliRun.InProcess(["experiment", "overcommit", "--config", config, "--out", dir, "-j", "2"]);
            Assert.That(r.Status, Is.Zero, r.ToString());
            using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
            var rows = json.RootElement.EnumerateArray().ToList();
            JsonElement Row(double ratio, string sharing, string balloon) => rows.Single(x => x.GetProperty("ratio").GetDouble() == ratio
                && x.GetProperty("sharing").GetString() == sharing && x.GetProperty("balloon").GetString() == balloon);
            Assert.Multiple(() =>
            {
                Assert.That(rows, Has.Count.EqualTo(8), "two ratios x sharing off/all x balloons off/on");
                Assert.That(File.ReadAllLines(Path.Combine(dir, "results.csv")), Has.Length.EqualTo(9), "a header and eight points");
                Assert.That(rows.All(x => x.GetProperty("completed").GetBoolean()), Is.True, "every guest ended by itself");
                Assert.That(rows.Select(x => x.GetProperty("transcript_hash").GetString()).Distinct().Count(), Is.EqualTo(1), "the same transcripts at every point");
                Assert.That(Row(1, "off", "off").GetProperty("swapped_out").GetInt64(), Is.Zero, "1x: nothing to reclaim");
                Assert.That(Row(1, "off", "on").GetProperty("balloon_peak_pages").GetInt64(), Is.Zero, "1x: no balloon asked for");
                Assert.That(Row(4, "off", "off").GetProperty("swapped_out").GetInt64(), Is.GreaterThan(500), "4x: swap works");
                Assert.That(Row(4, "off", "on").GetProperty("balloon_peak_pages").GetInt64(), Is.GreaterThan(0), "4x: the balloons inflate");
                Assert.That(Row(4, "all", "off").GetProperty("reclaimed_by_sharing").GetInt64(), Is.GreaterThan(0), "sharing saves frames");
                Assert.That(Row(4, "off", "off").GetProperty("instructions").GetInt64(), Is.EqualTo(Row(1, "off", "off").GetProperty("instructions").GetInt64()),
                    "overcommit changes no guest's virtual time");
                string summary = File.ReadAllText(Path.Combine(dir, "summary.md"));
                Assert.That(summary, Does.Contain("## Findings").And.Contain("8 of 8 points completed").And.Contain("8 of 8 printed exactly"));
                Assert.That(Directory.GetFiles(dir, "*.png").Select(Path.GetFileName), Is.EquivalentTo(new[] { "run-time.png", "swap-traffic.png", "balloon.png" }));
                Assert.That(new FileInfo(Path.Combine(dir, "swap-traffic.png")).Length, Is.GreaterThan(10_000), "a real picture");
            });
        }
        finally
        {
            File.Delete(config);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("guests=2\nmemory=8M\nratios=1,0.5\nappend=prog=hello\n", "ratio '0.5': from 1 to 16")]
    [TestCase("guests=2\nmemory=8M\nappend=prog=hello\n", "guests, memory, ratios and append are all needed")]
    [TestCase("guests=2\nmemory=8M\nratios=1\nappend=prog=hello\ncolour=blue\n", "'colour=blue': the keys are")]
    public void Config_WithAMistake_SaysWhere(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => OvercommitConfig.Parse(text, "my.txt"));
        Assert.That(e!.Message, Does.StartWith("my.txt").And.Contain(message));
    }

    [Test]
    public void TheBuiltInSweeps_RunEveryRatioWithSharingOffAndAll_BalloonsOffAndOn()
    {
        OvercommitConfig full = OvercommitConfig.Parse(OvercommitConfig.DefaultText, "built in");
        OvercommitConfig quick = OvercommitConfig.Parse(OvercommitConfig.QuickText, "built in (--quick)");
        Assert.Multiple(() =>
        {
            Assert.That(full.Ratios, Is.EqualTo(new[] { 1.0, 2, 3, 4 }));
            Assert.That(full.Points, Has.Count.EqualTo(16));
            Assert.That(full.Points.Select(p => p.Id).Distinct().Count(), Is.EqualTo(16));
            Assert.That(quick.Points, Has.Count.EqualTo(12));
            Assert.That(full.MachineBytes(4), Is.EqualTo(8 * (32L << 20) / 4));
        });
    }
}

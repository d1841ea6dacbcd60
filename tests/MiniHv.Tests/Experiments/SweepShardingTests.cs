using System.Diagnostics;
using System.Text.Json;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.Experiments;

/// <summary>
/// A sweep cut into shards, killed and resumed, or run point by point gives the results one uninterrupted run gives:
/// every point once, every column the same but the host timings; shards of different sweeps do not merge and missing
/// points are named. The sweep is eight tiny points (one environment, the 64 KiB library) so the tests stay quick.
/// </summary>
public class SweepShardingTests
{
    private const string TinySweep = """
        sweeps:
          - name: tiny
            guests: [1, 2]
            envs_per_guest: 1
            variant: [pic, nonpic]
            sharing: [off, all]
        """;

    /// <summary>The columns that are host time, so differ from run to run.</summary>
    private static readonly string[] HostTimes = ["settle_seconds", "wall_seconds"];

    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"minihv-sweeps-{Guid.NewGuid():N}");

    private static readonly Lazy<string> Config = new(() => WriteConfig("tiny.yaml", TinySweep));

    /// <summary>The uninterrupted run everything is compared with.</summary>
    private static readonly Lazy<string> Single = new(() =>
    {
        string dir = Path.Combine(Root, "single");
        CliResult r = Minihv("experiment", "sharedobj", "--config", Config.Value, "--out", dir);
        Assert.That(r.Status, Is.Zero, r.ToString());
        return dir;
    });

    [OneTimeTearDown]
    public void RemoveTheResults()
    {
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(7)]
    public void TheMergeOfNShards_EqualsOneRunOfTheWholeSweep(int n)
    {
        var shards = new List<string>();
        for (int k = 0; k < n; k++)
        {
            string dir = Path.Combine(Root, $"shards{n}", $"shard{k}");
            CliResult r = Minihv("experiment", "sharedobj", "--config", Config.Value, "--out", dir, "--shard", $"{k}/{n}", "-j", "1");
            Assert.That(r.Status, Is.Zero, r.ToString());
            if (n > 1)
                Assert.That(File.Exists(Path.Combine(dir, "results.csv")), Is.False, "a part of the sweep leaves the outputs to the merge");
            shards.Add(dir);
        }

        string merged = Path.Combine(Root, $"shards{n}", "merged");
        CliResult m = Minihv(["experiment", "merge", merged, .. shards]);
        Assert.That(m.Status, Is.Zero, m.ToString());
        AssertSameResults(merged, Single.Value);
    }

    [Test]
    public void ASweepKilledAtRandomMoments_ResumesToTheResultsOfAnUninterruptedRun_EveryPointOnce()
    {
        string dir = Path.Combine(Root, "killed");
        var random = new Random();
        int interrupted = 0;
        for (int attempt = 0; attempt < 10 && PointsDone(dir) < 7; attempt++)
        {
            // Half the time at any moment from the start (startup, the first point), half just after a point ended.
            bool afterAPoint = attempt % 2 == 1;
            using Process process = StartMinihv("experiment", "sharedobj", "--config", Config.Value, "--out", dir, "-j", "2");
            using var pointEnded = new ManualResetEventSlim();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("minihv: [", StringComparison.Ordinal) == true)
                    pointEnded.Set();
            };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            if (afterAPoint)
                pointEnded.Wait(TimeSpan.FromSeconds(60));
            Thread.Sleep(random.Next(afterAPoint ? 150 : 800));
            if (!process.HasExited)
                process.Kill(); // SIGKILL: no chance to tidy up
            process.WaitForExit();
            if (PointsDone(dir) < 8)
                interrupted++;
        }

        CliResult last = Minihv("experiment", "sharedobj", "--config", Config.Value, "--out", dir, "-j", "2");
        Assert.Multiple(() =>
        {
            Assert.That(last.Status, Is.Zero, last.ToString());
            Assert.That(interrupted, Is.GreaterThan(0), "at least one kill landed before the sweep was done");
            Assert.That(PointsDone(dir), Is.EqualTo(8), "one file per point");
            Assert.That(Directory.GetFiles(Path.Combine(dir, "points"), "*.tmp"), Is.Empty, "what the kills left half written is gone");
        });
        AssertSameResults(dir, Single.Value);
    }

    [Test]
    public void ShardsOfDifferentSweeps_RefuseToMerge_NamingBoth_AndShareNoOut()
    {
        string other = WriteConfig("seed2.yaml", "seed: 2\n" + TinySweep);
        string point = "g1-e1-load-64k-pic-aslr0-off-t25";
        string a = Path.Combine(Root, "mismatch-a"), b = Path.Combine(Root, "mismatch-b");
        Assert.That(Minihv("experiment", "sharedobj", "--config", Config.Value, "--out", a, "--points", point).Status, Is.Zero);
        Assert.That(Minihv("experiment", "sharedobj", "--config", other, "--out", b, "--points", point).Status, Is.Zero);

        CliResult r = Minihv("experiment", "merge", Path.Combine(Root, "mismatch-merged"), a, b);
        CliResult into = Minihv("experiment", "sharedobj", "--config", other, "--out", a, "--points", point);
        Assert.Multiple(() =>
        {
            Assert.That(into.Status, Is.EqualTo(2), "one --out never mixes two sweeps");
            Assert.That(into.Error, Does.Contain("it holds the results of sweep").And.Not.Contain("minihv: [1/1]"), into.ToString());
            Assert.That(r.Status, Is.EqualTo(2), r.ToString());
            CliRun.AssertCleanError(r);
            Assert.That(r.Error, Does.Contain("shards of different sweeps do not merge").And.Contain(a).And.Contain(b).And.Contain(other));
            Assert.That(File.Exists(Path.Combine(Root, "mismatch-merged", "results.csv")), Is.False, "nothing merged");
        });
    }

    [Test]
    public void AMergeWithPointsMissing_ListsThem_AndWritesNoResults()
    {
        string dir = Path.Combine(Root, "one-point");
        string point = "g2-e1-load-64k-nonpic-aslr0-all-t25";
        Assert.That(Minihv("experiment", "sharedobj", "--config", Config.Value, "--out", dir, "--points", point).Status, Is.Zero);

        CliResult r = Minihv("experiment", "merge", Path.Combine(Root, "one-point-merged"), dir);
        string[] all = Minihv("experiment", "sharedobj", "--config", Config.Value, "--list-points").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(r.Status, Is.EqualTo(2), r.ToString());
            CliRun.AssertCleanError(r);
            Assert.That(r.Error, Does.Contain("7 of 8 points").And.Contain("missing"));
            Assert.That(r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(all.Where(l => !l.StartsWith(point, StringComparison.Ordinal))),
                "every point but the one run, as --list-points prints them");
            Assert.That(File.Exists(Path.Combine(Root, "one-point-merged", "results.csv")), Is.False);
        });
    }

    [Test]
    public void PointIds_ComeFromTheParameters_AndTheShardsCoverTheSweepOnce()
    {
        string reordered = WriteConfig("reordered.yaml", """
            sweeps:
              - name: tiny
                guests: [2, 1]
                envs_per_guest: 1
                variant: [nonpic, pic]
                sharing: [all, off]
            """);
        string[] Ids(params string[] args) => Minihv(["experiment", "sharedobj", .. args, "--list-points"]).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();
        string[] all = Ids("--config", Config.Value);
        string[][] shards = Enumerable.Range(0, 3).Select(k => Ids("--config", Config.Value, "--shard", $"{k}/3")).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(all, Has.Length.EqualTo(8).And.Unique);
            Assert.That(Ids("--config", reordered), Is.EquivalentTo(all), "the same points in another order keep their ids");
            Assert.That(Ids("--config", reordered)[0], Is.EqualTo("g2-e1-load-64k-nonpic-aslr0-all-t25"));
            Assert.That(shards.SelectMany(s => s), Is.EquivalentTo(all), "three shards: every point once");
            Assert.That(shards[1], Is.EqualTo(new[] { all[1], all[4], all[7] }), "shard 1/3: positions 1, 4, 7");
        });
    }

    [TestCase("--shard", "3/3", "--shard: '3/3'")]
    [TestCase("--shard", "one/3", "--shard: 'one/3'")]
    [TestCase("--points", "g9-nothing", "--points: no point g9-nothing")]
    public void ABadSelection_IsOneClearLine(string option, string value, string message)
    {
        CliResult r = Minihv("experiment", "sharedobj", "--config", Config.Value, option, value, "--list-points");
        Assert.That(r.Status, Is.EqualTo(2), r.ToString());
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith($"minihv: {message}"));
    }

    [Test]
    public void AFailedPoint_IsRecordedWithItsError_AndRunAgainOnlyWithRetryFailed()
    {
        // 2 MiB of guest memory: the guest kernel refuses to boot, a real failure of the point.
        string config = WriteConfig("too-small.yaml", "memory: 2M\nsweeps: [{guests: 1, envs_per_guest: 1}]\n");
        string dir = Path.Combine(Root, "failing");
        string[] run = ["experiment", "sharedobj", "--config", config, "--out", dir];

        CliResult first = Minihv(run), again = Minihv(run), retried = Minihv([.. run, "--retry-failed"]);
        using var record = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "points", "g1-e1-load-64k-pic-aslr0-all-t25.json")));
        Assert.Multiple(() =>
        {
            Assert.That(first.Status, Is.EqualTo(12), first.ToString());
            CliRun.AssertCleanError(first);
            Assert.That(first.Error, Does.Contain("1 of 1 points failed").And.Contain("--retry-failed"));
            Assert.That(record.RootElement.GetProperty("status").GetString(), Is.EqualTo("failed"));
            Assert.That(record.RootElement.GetProperty("error").GetString(), Does.Contain("need at least 4 MiB"), "the guest's own words");
            Assert.That(File.ReadAllText(Path.Combine(dir, "summary.md")), Does.Contain("## Failed points").And.Contain("g1-e1-load-64k-pic-aslr0-all-t25"));
            Assert.That(again.Status, Is.EqualTo(12), "still failed, not dropped");
            Assert.That(again.Error, Does.Contain("1 of 1 points already in").And.Not.Contain("FAILED:"), "not run again unasked");
            Assert.That(retried.Error, Does.Contain("FAILED:"), "run again when asked");
        });
    }

    private static int PointsDone(string dir)
        => Directory.Exists(Path.Combine(dir, "points")) ? Directory.GetFiles(Path.Combine(dir, "points"), "*.json").Length : 0;

    /// <summary>results.csv and results.json alike but for the host times; summary.md alike but for the --out it names and the host time; the charts alike.</summary>
    private static void AssertSameResults(string actual, string expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Csv(actual), Is.EqualTo(Csv(expected)), "results.csv");
            Assert.That(Json(actual), Is.EqualTo(Json(expected)), "results.json");
            Assert.That(Summary(actual, actual), Is.EqualTo(Summary(expected, expected)), "summary.md");
            string[] charts = Directory.GetFiles(expected, "*.png").Select(Path.GetFileName).ToArray()!;
            Assert.That(Directory.GetFiles(actual, "*.png").Select(Path.GetFileName), Is.EquivalentTo(charts));
            foreach (string c in charts)
                Assert.That(File.ReadAllBytes(Path.Combine(actual, c)), Is.EqualTo(File.ReadAllBytes(Path.Combine(expected, c))), c);
        });
    }

    private static List<string> Csv(string dir)
    {
        string[] lines = File.ReadAllLines(Path.Combine(dir, "results.csv"));
        string[] header = lines[0].Split(',');
        int[] kept = Enumerable.Range(0, header.Length).Where(i => !HostTimes.Contains(header[i])).ToArray();
        return lines.Select(l => string.Join(',', kept.Select(i => l.Split(',')[i]))).ToList();
    }

    private static List<string> Json(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
        return doc.RootElement.EnumerateArray()
            .Select(row => string.Join(',', row.EnumerateObject().Where(p => !HostTimes.Contains(p.Name)).Select(p => $"{p.Name}={p.Value.GetRawText()}")))
            .ToList();
    }

    private static List<string> Summary(string dir, string outDir)
        => File.ReadAllLines(Path.Combine(dir, "summary.md")).Where(l => !l.StartsWith("The scanner took at most", StringComparison.Ordinal))
            .Select(l => l.Replace(outDir, "OUT", StringComparison.Ordinal)).ToList();

    private static string WriteConfig(string name, string text)
    {
        Directory.CreateDirectory(Root);
        string path = Path.Combine(Root, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static CliResult Minihv(params string[] args) => CliRun.InProcess(args);

    private static Process StartMinihv(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(TestContext.CurrentContext.TestDirectory, "minihv.dll"));
        foreach (string a in args)
            start.ArgumentList.Add(a);
        Process process = Process.Start(start)!;
        process.StandardInput.Close();
        return process;
    }
}

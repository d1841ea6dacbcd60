using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MiniHv.Cli.Running;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>The live status of a run, and Ctrl-C: the guests stop, the statistics are still written, the status is 130.</summary>
public class StatusAndInterruptTests
{
    [TestCase("auto", 4, true, "table")]
    [TestCase("auto", 1, true, "off")]
    [TestCase("auto", 4, false, "lines")]
    [TestCase("auto", 1, false, "lines")]
    [TestCase("off", 4, true, "off")]
    [TestCase("table", 1, false, "table")]
    public void Auto_MeansATableOnATerminal_AndLinesOffOne(string asked, int guests, bool terminal, string expected)
        => Assert.That(StatusReporter.Resolve(Enum.Parse<StatusMode>(asked, true), guests, terminal), Is.EqualTo(Enum.Parse<StatusMode>(expected, true)));

    [Test]
    public void StatusTable_ShowsEveryGuest_AndTheMachineTotals()
    {
        var r = CliRun.InProcess(["run", "--count", "2", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "--status", "table", "--sharing", "all"]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Error, Does.Contain("jos-1").And.Contain("jos-2").And.Contain("MIPS").And.Contain("machine frames in use"));
        Assert.That(r.Error, Does.Contain("sharing all: pages_shared"));
        Assert.That(r.Serial, Does.Contain("[jos-2] hello, world"), "not a terminal here: the output is not held back");
    }

    /// <summary>
    /// Ctrl-C (SIGINT) and SIGTERM take the same path. A process started in the background by a shell without job
    /// control inherits SIGINT ignored, and so do its children (POSIX): then minihv rightly never sees it, and the
    /// SIGINT case has nothing to test.
    /// </summary>
    [TestCase("INT")]
    [TestCase("TERM")]
    public void AnInterrupt_StopsTheGuests_WritesTheStatistics_AndExitsWith130(string signal)
    {
        if (signal == "INT" && SignalIgnoredHere(2))
            Assert.Ignore("SIGINT is ignored in this test process (started in the background), so minihv would inherit that");
        string stats = CliRun.TempFile([], "interrupted.json");
        File.Delete(stats);
        string dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "minihv.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string a in new[] { dll, "run", "--count", "2", TestImages.Jos, "--append", "prog=spin spin.yields=1000000", "-m", "32M", "--stats", stats, "--status", "off" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        using var spinning = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
                stdout.AppendLine(e.Data);
            if (e.Data?.Contains("spin: I am the child, spinning", StringComparison.Ordinal) == true)
                spinning.Set();
        };
        process.BeginOutputReadLine();
        Task<string> stderr = process.StandardError.ReadToEndAsync();

        try
        {
            // The interrupt must land while the guests run.
            Assert.That(spinning.Wait(TimeSpan.FromSeconds(120)), "the guests started spinning");
            using (var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                kill.WaitForExit();
            Assert.That(process.WaitForExit(60_000), "stopped within a minute");
            process.WaitForExit();
            Assert.That(process.ExitCode, Is.EqualTo(130), stderr.Result);
            Assert.That(stderr.Result, Does.Contain("minihv: jos-1: stopped"));
            using var doc = JsonDocument.Parse(File.ReadAllText(stats));
            Assert.That(doc.RootElement.GetProperty("guests").EnumerateArray().Select(g => g.GetProperty("exit_reason").GetString()),
                Is.EqualTo(new[] { "stopped", "stopped" }));
        }
        finally
        {
            // Never leave a spinning minihv behind a failed assertion.
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Whether this process ignores signal <paramref name="number"/> (Linux: SigIgn in /proc/self/status).</summary>
    private static bool SignalIgnoredHere(int number)
    {
        string? line = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))
            : null;
        return line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (number - 1))) != 0;
    }
}

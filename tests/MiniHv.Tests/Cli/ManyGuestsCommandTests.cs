using System.Text.Json;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary><c>minihv run</c> with several guests: prefixed lines, per-guest logs, the statistics file, and the errors of the new options.</summary>
public class ManyGuestsCommandTests
{
    /// <summary>The lines of one guest, out of a prefixed transcript, with the prefix removed.</summary>
    private static string LinesOf(string transcript, string name)
    {
        string prefix = $"[{name}] ";
        return string.Concat(transcript.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l[prefix.Length..] + "\n"));
    }

    [TestCase("--deterministic")]
    [TestCase("--threads=2")]
    public void Count_RunsCopies_EachLinePrefixedWithItsGuest(string scheduler)
    {
        var r = CliRun.InProcess(["run", "--count", "3", TestImages.Jos, "--append", "prog=forktree", "-m", "64M", scheduler]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.All.Match(@"^\[jos-[123]\] "));
        foreach (string name in new[] { "jos-1", "jos-2", "jos-3" })
            Assert.That(LinesOf(r.Serial, name), Is.EqualTo(TestImages.Golden("jos", "forktree")), name);
    }

    [Test]
    public void Guests_MixImagesCommandLinesAndSizes_AndLogToTheSerialDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "minihv-tests", Guid.NewGuid().ToString("N"));
        var r = CliRun.InProcess(["run",
            "--guest", $"{TestImages.Jos},append=prog=primes,name=primes,memory=64M",
            "--guest", $"{TestImages.TestKernel("cmos")},memory=96M",
            "--guest", $"{TestImages.Jos},append=prog=hello,,ignored=1,memory=32M",
            "--serial-dir", dir]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(LinesOf(r.Serial, "primes"), Is.EqualTo(TestImages.Golden("jos", "primes")));
        Assert.That(LinesOf(r.Serial, "cmos"), Is.EqualTo(TestImages.Golden("kernels", "cmos")));
        Assert.That(File.ReadAllText(Path.Combine(dir, "primes.log")), Is.EqualTo(TestImages.Golden("jos", "primes")));
        Assert.That(File.ReadAllText(Path.Combine(dir, "cmos.log")), Is.EqualTo(TestImages.Golden("kernels", "cmos")));
        Assert.That(File.ReadAllText(Path.Combine(dir, "jos.log")), Does.Contain("jos: command line: prog=hello,ignored=1"));
        Assert.That(File.ReadAllText(Path.Combine(dir, "jos.log")), Does.Contain("physical memory 32640K"));
    }

    [Test]
    public void Stats_WritesEveryGuestsEnd_AndItsShadowCounters()
    {
        string path = CliRun.TempFile([], "stats.json");
        var r = CliRun.InProcess(["run", "--count", "2", TestImages.Jos, "--append", "prog=forktree", "-m", "64M", "--deterministic", "--stats", path]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("format").GetString(), Is.EqualTo("minihv-stats"));
        Assert.That(root.GetProperty("run").GetProperty("scheduler").GetString(), Is.EqualTo("deterministic"));
        JsonElement[] guests = root.GetProperty("guests").EnumerateArray().ToArray();
        Assert.That(guests.Select(g => g.GetProperty("name").GetString()), Is.EqualTo(new[] { "jos-1", "jos-2" }));
        foreach (JsonElement g in guests)
        {
            Assert.That(g.GetProperty("exit_reason").GetString(), Is.EqualTo("debug_exit"));
            long instructions = g.GetProperty("instructions").GetInt64();
            Assert.That(instructions, Is.GreaterThan(1_000_000));
            JsonElement shadow = g.GetProperty("shadow");
            Assert.That(shadow.GetProperty("instructions").GetInt64(), Is.EqualTo(instructions));
            Assert.That(shadow.GetProperty("cr3_switches").GetInt64(), Is.GreaterThan(10), "forktree switches between environments");
            Assert.That(shadow.GetProperty("cr3_switch_hits").GetInt64(), Is.GreaterThan(0));
            Assert.That(shadow.GetProperty("shadow_fills").GetInt64(), Is.GreaterThan(0));
            Assert.That(shadow.GetProperty("tlb_fills").GetInt64(), Is.GreaterThan(shadow.GetProperty("cr3_switch_hits").GetInt64()),
                "software-TLB misses that asked the shadow: at least one after each switch, whose TLB set may hold nothing");
            JsonElement hidden = shadow.GetProperty("hidden_faults");
            Assert.That(hidden.GetProperty("page_table_write").GetInt64(), Is.GreaterThan(0), "fork writes page tables");
            Assert.That(hidden.GetProperty("zero_frame_break").GetInt64(), Is.EqualTo(g.GetProperty("memory").GetProperty("private_frames").GetInt64()),
                "every private frame was once a break from the zero frame");
            Assert.That(shadow.GetProperty("guest_page_faults").GetInt64(), Is.GreaterThan(0), "copy-on-write fork takes page faults in the guest");
        }

        Assert.That(guests[1].GetProperty("shadow").ToString(), Is.EqualTo(guests[0].GetProperty("shadow").ToString()),
            "two identical guests in a deterministic run count the same");
    }

    [Test]
    public void MemoryCap_StopsTheGuestThatExceedsIt_AndNoOther()
    {
        var r = CliRun.InProcess(["run", "-m", "64M",
            "--guest", $"{TestImages.Jos},append=prog=lazyalloc lazyalloc.pages=1024,cap=2M,name=capped",
            "--guest", $"{TestImages.Jos},append=prog=forktree,name=fine"]);
        Assert.That(r.Status, Is.EqualTo(10), r.ToString);
        Assert.That(r.Error, Does.Contain("minihv: capped: out of machine memory: the guest holds its limit of 512 frames (2 MiB)"));
        Assert.That(LinesOf(r.Serial, "fine"), Is.EqualTo(TestImages.Golden("jos", "forktree")));
    }

    [TestCase("--guest ,name=x", "starts with the image path")]
    [TestCase("--memory-cap 0 IMG", "--memory-cap '0'")]
    [TestCase("--guest IMG,cap=lots", "cap 'lots'")]
    [TestCase("--guest IMG,colour=red", "unknown key 'colour'")]
    [TestCase("--guest IMG,memory=1M", "from 2 MiB")]
    [TestCase("--guest IMG,name=a/b", "a name is letters")]
    [TestCase("--count 0 IMG", "--count must be from 1 to 1024")]
    [TestCase("--threads 0 IMG", "--threads must be from 1 to 1024")]
    [TestCase("--paging fast IMG", "fast")]
    [TestCase("--count 2", "--count needs an IMAGE")]
    [TestCase("--stats /no/such/dir/stats.json IMG", "--stats '/no/such/dir/stats.json'")]
    public void BadManyGuestOption_GivesAClearMessage_AndStatus2(string options, string messagePart)
    {
        var args = new List<string> { "run" };
        args.AddRange(options.Replace("IMG", TestImages.TestKernel("hello"), StringComparison.Ordinal).Split(' '));
        var r = CliRun.InProcess(args.ToArray());
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(messagePart));
    }

    [Test]
    public void NoGuestAtAll_SaysSo()
    {
        var r = CliRun.InProcess(["run"]);
        Assert.That(r.Status, Is.EqualTo(2));
        Assert.That(r.Error, Does.Contain("no guest to run"));
    }

    [Test]
    public void OneBadImageAmongMany_RefusesTheRun_NamingTheGuest()
    {
        string bad = CliRun.TempFile([1, 2, 3], "broken.elf");
        var r = CliRun.InProcess(["run", "--guest", TestImages.Jos, "--guest", bad]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith("minihv: broken: "));
    }
}

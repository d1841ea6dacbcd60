using System.CommandLine;
using MiniHv.Cli;
using MiniHv.Cli.Commands;
using MiniHv.Cli.Running;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv run --config FILE</c> and <c>--save-config FILE</c>: experiments as YAML or JSON files that run the
/// same guests as the command line, options that override the file, a saved file that gives back the same plan,
/// and a FILE:LINE:COLUMN message for every mistake in a file.
/// </summary>
public class RunConfigTests
{
    private static readonly IReadOnlyList<VmConfig> NoGuests = [];

    private static string NewDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "minihv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The lines of one guest, out of a prefixed transcript, with the prefix removed.</summary>
    private static string LinesOf(string transcript, string name)
    {
        string prefix = $"[{name}] ";
        return string.Concat(transcript.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l[prefix.Length..] + "\n"));
    }

    /// <summary>What <c>minihv run ARGS</c> would run, without running it: the plan, or the status and message of a refusal.</summary>
    private static (int Status, RunPlan? Plan, string Error) PlanOf(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var streams = new CliStreams(new MemoryStream(), null, output, error);
        RunPlan? plan = null;
        var root = new RootCommand { RunCommand.Create(streams, (p, _, _) => { plan = p; return 0; }) };
        ParseResult parse = root.Parse(["run", .. args]);
        Assert.That(parse.Errors.Select(e => e.Message), Is.Empty, string.Join(' ', args));
        int status = parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (status, plan, error.ToString());
    }

    private static RunPlan MustPlan(params string[] args)
    {
        var (status, plan, error) = PlanOf(args);
        Assert.That(status, Is.EqualTo(0), error);
        Assert.That(plan, Is.Not.Null, error);
        return plan!;
    }

    /// <summary>Every field of both plans, VmConfig by VmConfig; images by their bytes, the fault policy kind by kind.</summary>
    private static void AssertSamePlan(RunPlan actual, RunPlan expected, string because)
    {
        Assert.That(actual.Guests, Has.Count.EqualTo(expected.Guests.Count), because);
        for (int i = 0; i < expected.Guests.Count; i++)
        {
            Assert.That(actual.Guests[i] with { Image = default }, Is.EqualTo(expected.Guests[i] with { Image = default }), $"{because}: guest {i}");
            Assert.That(actual.Guests[i].Image.ToArray(), Is.EqualTo(expected.Guests[i].Image.ToArray()), $"{because}: guest {i}'s image");
        }

        Assert.That(actual with { Guests = NoGuests, Faults = null }, Is.EqualTo(expected with { Guests = NoGuests, Faults = null }), because);
        Assert.That(actual.Faults is null, Is.EqualTo(expected.Faults is null), $"{because}: fault logging");
        if (expected.Faults is FaultLogging faults)
        {
            Assert.That(actual.Faults!.Console, Is.EqualTo(faults.Console), because);
            Assert.That(actual.Faults.JsonPath, Is.EqualTo(faults.JsonPath), because);
            foreach (FaultKind kind in FaultKinds.All)
                Assert.That(actual.Faults.Policy.For(kind), Is.EqualTo(faults.Policy.For(kind)), $"{because}: {kind}");
        }
    }

    [Test]
    public void YamlConfig_RunsItsGuests_EachWithItsQemuTranscript()
    {
        string dir = NewDirectory();
        File.Copy(TestImages.TestKernel("hello"), Path.Combine(dir, "hello.elf"));
        string config = Write(dir, "experiment.yaml", $"""
            # two JOS guests and a test kernel, one after the other
            deterministic: true
            memory: 64M
            serial_dir: logs
            guests:
              - image: {TestImages.Jos}
                append: prog=hello
                count: 2
              - image: hello.elf          # beside this file
                append: "console=ttyS0 answer=42  two-spaces"
                name: kernel
            """);
        var r = CliRun.InProcess(["run", "--config", config]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(LinesOf(r.Serial, "jos-1"), Is.EqualTo(TestImages.Golden("jos", "hello")));
        Assert.That(LinesOf(r.Serial, "jos-2"), Is.EqualTo(TestImages.Golden("jos", "hello")));
        Assert.That(LinesOf(r.Serial, "kernel"), Is.EqualTo(TestImages.Golden("kernels", "hello")));
        Assert.That(File.ReadAllText(Path.Combine(dir, "logs", "kernel.log")), Is.EqualTo(TestImages.Golden("kernels", "hello")),
            "serial_dir is relative to the config file");
    }

    [Test]
    public void JsonConfig_RunsItsGuests_EachWithItsQemuTranscript()
    {
        string dir = NewDirectory();
        string config = Write(dir, "experiment.json", $$"""
            {
              "sharing": "all",
              "stats": "run.json",
              "guests": [
                { "image": "{{TestImages.TestKernel("cmos")}}", "memory": "96M" },
                { "image": "{{TestImages.Jos}}", "append": "prog=hello", "memory": 64, "name": "hello" }
              ]
            }
            """);
        var r = CliRun.InProcess(["run", "--config", config]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(LinesOf(r.Serial, "cmos"), Is.EqualTo(TestImages.Golden("kernels", "cmos")));
        Assert.That(LinesOf(r.Serial, "hello"), Is.EqualTo(TestImages.Golden("jos", "hello")), "a bare number is MiB, as with -m");
        Assert.That(File.ReadAllText(Path.Combine(dir, "run.json")), Does.Contain("\"name\": \"hello\""), "stats is relative to the config file");
    }

    [Test]
    public void ReadmesExample_DescribesFourSaltedGuests()
    {
        RunPlan plan = MustPlan("--config", Path.Combine(TestImages.RepositoryRoot, "experiments", "dedup-4.yaml"));
        Assert.That(plan.Guests.Select(g => g.Name), Is.EqualTo(new[] { "jos-1", "jos-2", "other-1", "other-2" }));
        Assert.That(plan.Guests.Select(g => g.Salt), Is.EqualTo(new[] { "a", "a", "b", "b" }));
        Assert.That(plan.Guests.Select(g => g.MemoryBytes), Has.All.EqualTo(64L << 20));
        Assert.That(plan.Guests[0].Image.ToArray(), Is.EqualTo(File.ReadAllBytes(TestImages.Jos)), "the image path is relative to the file");
        Assert.That((plan.Sharing, plan.Deterministic, plan.ScanRate), Is.EqualTo((SharingPolicy.Salted, true, 2_000_000L)));
    }

    [Test]
    public void ScanRateAuto_AndScanThreads_FromTheFile_OrTheCommandLine()
    {
        string config = Write(NewDirectory(), "auto.yaml", $"sharing: all\nscan_rate: auto\nscan_threads: 3\nguests:\n  - image: {TestImages.Jos}\n");
        RunPlan plan = MustPlan("--config", config);
        Assert.That((plan.ScanAuto, plan.ScanThreads, plan.ScanRate), Is.EqualTo((true, 3, RunPlan.DefaultScanRate)));

        plan = MustPlan("--config", config, "--scan-rate", "7000", "--scan-threads", "1");
        Assert.That((plan.ScanAuto, plan.ScanThreads, plan.ScanRate), Is.EqualTo((false, 1, 7000L)), "a number on the command line replaces auto");

        plan = MustPlan(TestImages.Jos, "--sharing", "all");
        Assert.That((plan.ScanAuto, plan.ScanThreads), Is.EqualTo((false, 1)), "the defaults");
    }

    [TestCase("experiment.conf", "{\"sharing\": \"guest\", \"guests\": [{\"image\": \"IMG\"}]}")]
    [TestCase("experiment", "  {\"sharing\": \"guest\", \"guests\": [{\"image\": \"IMG\"}]}")]
    [TestCase("experiment.conf", "sharing: guest\nguests:\n  - image: IMG\n")]
    [TestCase("experiment.yml", "{sharing: guest, guests: [{image: IMG}]}")]
    public void FormatIsChosenByExtension_OrByTheFirstCharacter(string name, string text)
    {
        string config = Write(NewDirectory(), name, text.Replace("IMG", TestImages.Jos, StringComparison.Ordinal));
        RunPlan plan = MustPlan("--config", config);
        Assert.That(plan.Sharing, Is.EqualTo(SharingPolicy.Guest));
        Assert.That(plan.Guests.Select(g => g.Name), Is.EqualTo(new[] { "jos" }));
    }

    [Test]
    public void CommandLine_OverridesTheFilesSettings_AndAddsGuestsAfterItsOwn()
    {
        string config = Write(NewDirectory(), "base.yaml", $"""
            sharing: all
            deterministic: true
            scan_rate: 1000
            memory: 32M
            memory_cap: 8M
            quantum: 5000
            guests:
              - image: {TestImages.Jos}
              - image: {TestImages.Jos}
                memory: 96M
                name: big
            """);
        RunPlan plan = MustPlan("--config", config, "-m", "64M", "--sharing", "salted", "--deterministic", "false",
            "--guest", $"{TestImages.TestKernel("hello")},cap=1M", TestImages.TestKernel("cmos"), "--count", "2");

        Assert.That(plan.Sharing, Is.EqualTo(SharingPolicy.Salted), "--sharing replaces sharing");
        Assert.That(plan.Deterministic, Is.False, "--deterministic false replaces deterministic: true");
        Assert.That(plan.ScanRate, Is.EqualTo(1000), "what the command line leaves alone stays as the file says");
        Assert.That(plan.Quantum, Is.EqualTo(5000));
        Assert.That(plan.Guests.Select(g => g.Name), Is.EqualTo(new[] { "jos", "big", "cmos-1", "cmos-2", "hello" }),
            "the file's guests, then IMAGE's, then --guest's");
        Assert.That(plan.Guests.Select(g => g.MemoryBytes >> 20), Is.EqualTo(new long[] { 64, 96, 64, 64, 64 }),
            "-m replaces the file's memory for every guest without its own");
        Assert.That(plan.Guests.Select(g => g.MemoryCapBytes >> 20), Is.EqualTo(new long?[] { 8, 8, 8, 8, 1 }),
            "memory_cap applies to the command line's guests too; cap= still wins");
    }

    [Test]
    public void ScanFullEvery_FromTheFile_WithDeterministicTurnedOff_PointsAtTheFile()
    {
        string config = Write(NewDirectory(), "full.yaml", $"""
            deterministic: true
            scan_full_every: 100000
            guests:
              - image: {TestImages.Jos}
            """);
        Assert.That(MustPlan("--config", config).ScanFullEvery, Is.EqualTo(100000));
        var (status, _, error) = PlanOf("--config", config, "--deterministic", "false");
        Assert.That(status, Is.EqualTo(2));
        Assert.That(error, Is.EqualTo($"minihv: {config}:2:1: scan_full_every needs deterministic: true (or --deterministic)\n"));
    }

    [Test]
    public void SaveConfig_OfAConfigAndOverrides_WritesTheMergedRun()
    {
        string dir = NewDirectory();
        string config = Write(dir, "base.yaml", $"sharing: all\nguests:\n  - image: {TestImages.Jos}\n");
        string saved = Path.Combine(dir, "merged.json");
        var r = CliRun.InProcess(["run", "--config", config, "--sharing", "guest", "--guest", TestImages.TestKernel("hello"), "--save-config", saved]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Serial, Is.Empty, "nothing runs");
        RunPlan plan = MustPlan("--config", saved);
        Assert.That(plan.Sharing, Is.EqualTo(SharingPolicy.Guest));
        Assert.That(plan.Guests.Select(g => g.Name), Is.EqualTo(new[] { "jos", "hello" }));
    }

    [Test]
    public void SaveConfig_ToStandardOutput_IsYaml()
    {
        var r = CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=hello", "--sharing", "all", "--save-config", "-"]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Output, Does.Contain("sharing: all\n").And.Contain($"- image: {TestImages.Jos}\n  append: prog=hello\n"));
    }

    /// <summary>Command lines whose saved configuration must give back the very same plan.</summary>
    // Two writable disks of two sectors each, for the plans that name disks (planning never writes them).
    private static readonly string Scratch = CliRun.TempFile(new byte[1024], "scratch1.img");
    private static readonly string Scratch2 = CliRun.TempFile(new byte[1024], "scratch2.img");

    private static IEnumerable<TestCaseData> RoundTripCases()
    {
        yield return new TestCaseData((object)new[] { "{jos}", "--append", "prog=hello", "-m", "64M" }).SetName("OneImage");
        yield return new TestCaseData((object)new[]
        {
            "--count", "3", "{jos}", "--append", "prog=forktree", "--deterministic", "--quantum", "5000",
            "--sharing", "all", "--scan-rate", "2000000", "--scan-full-every", "100000",
        }).SetName("CopiesDeterministicSharing");
        yield return new TestCaseData((object)new[]
        {
            "--count", "2", "{jos}", "--sharing", "all", "--scan-rate", "auto", "--scan-threads", "2", "--threads", "2",
        }).SetName("ParallelSharingAutoRateTwoScanners");
        yield return new TestCaseData((object)new[]
        {
            "--guest", "{jos},append=prog=primes,,x=1,name=primes,memory=64M,salt=a,cap=2M,shares=3000",
            "--guest", "{hello},memory=96M,salt=true,append=console=ttyS0 answer=42  two-spaces",
            "--guest", "{jos},salt=,memory=2052K",
            "--sharing", "salted", "--memory-cap", "4097B", "--threads", "3", "--paging", "walk",
            "--timeout", "2.5", "--max-instructions", "1_000_000", "--cpu", "jit",
        }).SetName("GuestsSaltsCapsLimits");
        yield return new TestCaseData((object)new[]
        {
            "{rel-jos}", "--append", "a: b, #c \"quoted\" 'single' - [x] {y}: ~", "--serial-dir", "out/logs",
            "--stats", "out/run.json", "--fault-log", "/tmp/faults.jsonl", "--log-hidden", "every:10", "--dump-pt",
        }).SetName("RelativePathsAndAnAwkwardAppend");
        yield return new TestCaseData((object)new[] { "-v", "{jos}", "--log-hidden", "100/s", "--guest", "{rel-hello},name=007" }).SetName("VerboseMeansFaultLines");
        yield return new TestCaseData((object)new[] { "--faults", "{jos}", "--deterministic", "false", "--timeout", "0.1" }).SetName("FaultsAndExplicitFalse");
        yield return new TestCaseData((object)new[]
        {
            "{jos}", "--hdb", "{scratch1}", "--guest", "hda={disk},hdb={disk},snapshot,name=boot", "--guest", "{hello},hda={scratch2},snapshot=off",
        }).SetName("DisksAndADiskBoot");
        yield return new TestCaseData((object)new[] { "--hda", "{disk}", "--count", "2", "--snapshot" }).SetName("DiskBootCopiesWithSnapshot");
    }

    [Test]
    public void GuestShares_ReachTheGuest_OrAreTenPerMiBOfItsRam()
    {
        RunPlan plan = MustPlan("--guest", $"{TestImages.Jos},shares=3000", "--guest", $"{TestImages.Jos},memory=32M");
        Assert.That(plan.Guests.Select(g => g.EffectiveShares), Is.EqualTo(new[] { 3000L, 320L }));
        Assert.That(GuestSpec.TryParse("k.elf,shares=lots", out _, out string error), Is.False);
        Assert.That(error, Is.EqualTo($"--guest 'k.elf,shares=lots': shares 'lots': {GuestSpec.SharesRule}"));
        Assert.That(GuestSpec.TryParse("k.elf,shares=0", out _, out _), Is.False);
    }

    [Test]
    public void CpuOption_ChoosesEveryGuestsTier_BlockCompilerByDefault()
    {
        Assert.That(MustPlan(TestImages.Jos, "--count", "2").Guests.Select(g => g.Tier), Is.All.EqualTo(MiniHv.Cpu.CpuTier.Jit));
        Assert.That(MustPlan(TestImages.Jos, "--count", "2", "--cpu", "interp").Guests.Select(g => g.Tier), Is.All.EqualTo(MiniHv.Cpu.CpuTier.Interp));
        Assert.That(MustPlan(TestImages.Jos, "--count", "2", "--cpu", "jit").Guests.Select(g => g.Tier), Is.All.EqualTo(MiniHv.Cpu.CpuTier.Jit));
    }

    [TestCaseSource(nameof(RoundTripCases))]
    public void SavedConfig_GivesTheSamePlan_AsTheCommandLine(string[] template)
    {
        string[] args = template.Select(a => a
            .Replace("{jos}", TestImages.Jos, StringComparison.Ordinal)
            .Replace("{hello}", TestImages.TestKernel("hello"), StringComparison.Ordinal)
            .Replace("{disk}", TestImages.TestKernelFile("bootdisk.img"), StringComparison.Ordinal)
            .Replace("{scratch1}", Scratch, StringComparison.Ordinal)
            .Replace("{scratch2}", Scratch2, StringComparison.Ordinal)
            .Replace("{rel-jos}", Path.GetRelativePath(Environment.CurrentDirectory, TestImages.Jos), StringComparison.Ordinal)
            .Replace("{rel-hello}", Path.GetRelativePath(Environment.CurrentDirectory, TestImages.TestKernel("hello")), StringComparison.Ordinal))
            .ToArray();
        RunPlan expected = MustPlan(args);

        string dir = Path.Combine(NewDirectory(), "experiments");
        Directory.CreateDirectory(dir);
        foreach (string name in new[] { "saved.yaml", "saved.json" })
        {
            string saved = Path.Combine(dir, name);
            var (status, _, error) = PlanOf([.. args, "--save-config", saved]);
            Assert.That(status, Is.EqualTo(0), error);
            AssertSamePlan(MustPlan("--config", saved), expected, $"{name}:\n{File.ReadAllText(saved)}");

            // Saving what was loaded writes the same file again.
            string again = Path.Combine(dir, "again" + Path.GetExtension(name));
            Assert.That(PlanOf("--config", saved, "--save-config", again).Status, Is.EqualTo(0));
            Assert.That(File.ReadAllText(again), Is.EqualTo(File.ReadAllText(saved)));
        }
    }

    [TestCase("yaml", "sharing: all\n  deterministic: true\n", "2:16", "found invalid mapping")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    append: \"prog=hello\n", "3:13", "found unexpected end of stream")]
    [TestCase("yaml", "sharing: all\n---\nsharing: off\n", "2:1", "one YAML document")]
    [TestCase("yaml", "sharing: all\nsharing: off\n", "2:1", "key 'sharing' appears twice")]
    [TestCase("yaml", "- image: a.elf\n", "1:1", "a config file is a mapping of settings")]
    [TestCase("yaml", "sharing: all\ncolour: red\n", "2:1", "unknown key 'colour'")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    colour: red\n", "3:5", "unknown guest key 'colour'")]
    [TestCase("yaml", "deterministic: yes\n", "1:1", "deterministic: expects true or false")]
    [TestCase("yaml", "threads: many\n", "1:1", "threads: expects a whole number, from 1 to 1024")]
    [TestCase("yaml", "threads: 2000\n", "1:1", "threads 2000: must be from 1 to 1024")]
    [TestCase("yaml", "scan_rate: 1.5\n", "1:1", "scan_rate: expects a whole number")]
    [TestCase("yaml", "scan_rate: fast\n", "1:1", "scan_rate: expects a whole number, a positive number of frames per second, or auto")]
    [TestCase("yaml", "scan_threads: 0\n", "1:1", "scan_threads 0: must be from 1 to 64")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    shares: 0\n", "3:5", "shares 0: must be from 1 to 1000000")]
    [TestCase("yaml", "timeout: 0\n", "1:1", "timeout: expects a positive number of seconds")]
    [TestCase("yaml", "stats: true\n", "1:1", "stats: expects a string (write \"true\" in quotes for the word)")]
    [TestCase("yaml", "guests: a.elf\n", "1:1", "guests: expects a list of guests")]
    [TestCase("yaml", "guests:\n  - a.elf\n", "2:5", "a guest is a mapping of image, append")]
    [TestCase("yaml", "guests:\n  - append: prog=hello\n    count: 2\n", "2:5", "a guest needs an image")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    memory: 64Q\n", "3:5", "memory '64Q': a size is a number with an optional unit")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    memory: 1M\n", "3:5", "memory '1M': a guest has from 2 MiB")]
    [TestCase("yaml", "memory_cap: 100B\n", "1:1", "memory_cap '100B': at least one 4 KiB frame")]
    [TestCase("yaml", "guests:\n  - image: a.elf\n    count: 0\n", "3:5", "count 0: must be from 1 to 1024")]
    [TestCase("yaml", "guests:\n  - {image: a.elf, name: a/b}\n", "2:20", "name 'a/b': a name is letters")]
    [TestCase("yaml", "\n\nsharing: most\n", "3:1", "sharing 'most': one of off, guest, all, salted")]
    [TestCase("yaml", "paging: fast\n", "1:1", "paging 'fast': one of shadow, walk")]
    [TestCase("yaml", "cpu: fast\n", "1:1", "cpu 'fast': one of interp, jit")]
    [TestCase("yaml", "log_hidden: often\n", "1:1", "log_hidden 'often': none, all, every:N or N/s")]
    [TestCase("yaml", "guests: [*template]\n", "1:10", "alias '*template' has no anchor")]
    [TestCase("json", "{\n  \"sharing\": \"all\"\n  \"guests\": []\n}\n", "3:3", "'\"' is invalid after a value")]
    [TestCase("json", "{\n  \"sharing\": \"all\",\n", "3:1", "reached end of data")]
    [TestCase("json", "{\"sharing\": \"all\"} x", "1:20", "invalid after a single JSON value")]
    [TestCase("json", "{\"sharing\": \"all\", \"sharing\": \"off\"}", "1:20", "key 'sharing' appears twice")]
    [TestCase("json", "{\n  \"guests\": [\n    {\"image\": \"a.elf\", \"colour\": \"red\"}\n  ]\n}", "3:24", "unknown guest key 'colour'")]
    [TestCase("json", "{\n  \"threads\": \"4\"\n}", "2:3", "threads: expects a whole number")]
    [TestCase("json", "{\n  \"deterministic\": 1\n}", "2:3", "deterministic: expects true or false")]
    [TestCase("json", "{\"guests\": [{\"image\": \"a.elf\", \"cap\": \"lots\"}]}", "1:32", "cap 'lots': a size is a number")]
    [TestCase("json", "{\"sharing\": \"most\"}", "1:2", "sharing 'most': one of off, guest, all, salted")]
    [TestCase("json", "{\"append\": [\"x\"]}", "1:2", "unknown key 'append'")]
    [TestCase("json", "{\"guests\": [{\"image\": \"a.elf\", \"append\": [\"x\"]}]}", "1:32", "append: expects a string")]
    [TestCase("json", "{\"stats\": \"\u00e9t\u00e9.json\", \"bogus\": 1}", "1:23", "unknown key 'bogus'")]
    public void MistakeInTheFile_IsOneLine_WithItsLineAndColumn(string format, string text, string at, string message)
    {
        string config = Write(NewDirectory(), $"bad.{format}", text);
        var r = CliRun.InProcess(["run", "--config", config]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith($"minihv: {config}:{at}: ").And.Contain(message), r.ToString);
        Assert.That(r.Error.TrimEnd('\n'), Does.Not.Contain('\n'), "one line");
    }

    [Test]
    public void MissingConfigFile_IsOneLine_WithStatus2()
    {
        string missing = Path.Combine(NewDirectory(), "nowhere.yaml");
        var r = CliRun.InProcess(["run", "--config", missing]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith($"minihv: cannot read config file '{missing}': "));
        Assert.That(r.Error.TrimEnd('\n'), Does.Not.Contain('\n'));
    }

    [Test]
    public void MissingImage_NamedInAFile_IsABadImage_AtItsImageKey()
    {
        string config = Write(NewDirectory(), "e.yaml", "guests:\n  - image: missing.elf\n");
        var r = CliRun.InProcess(["run", "--config", config]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith($"minihv: {config}:2:5: cannot read kernel image '"));
    }

    [Test]
    public void UnwritableSaveConfig_IsOneLine_WithStatus2()
    {
        var r = CliRun.InProcess(["run", TestImages.Jos, "--save-config", "/no/such/dir/e.yaml"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.StartWith("minihv: cannot write config file '/no/such/dir/e.yaml': "));
    }
}

using MiniHv.Cli.Experiments;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.Experiments;

/// <summary>
/// The shared-object experiment's results have the shape first principles give them: a position-independent
/// library is one copy however many guests share it, text relocated at random addresses costs every environment
/// its own copy, no sharing costs every guest its own copy, and salt groups share only within themselves.
/// </summary>
public class SharedObjectExperimentTests
{
    /// <summary>One small sweep for all the shape tests, run once: the 256 KiB library, no data written.</summary>
    private const string ShapeSweep = """
        sweeps:
          - name: pic-guests
            guests: [1, 2, 4]
            envs_per_guest: 2
            lib_kib: 256
            touch_pct: 0
            variant: pic
            sharing: [off, all]
          - name: pic-salted
            guests: 4
            envs_per_guest: 2
            lib_kib: 256
            touch_pct: 0
            variant: pic
            sharing: salted
          - name: nonpic-aslr-envs
            guests: 1
            envs_per_guest: [1, 2, 4]
            lib_kib: 256
            touch_pct: 0
            variant: nonpic
            aslr: 1
            sharing: all
        """;

    private static readonly Lazy<List<PointResult>> Shape = new(() =>
        SharedObjectExperiment.Run(SharedObjectConfig.Parse(ShapeSweep, "test"), Environment.ProcessorCount, null));

    private static PointResult Row(string variant, SharingPolicy sharing, int guests, int envs = 2, int aslr = 0)
        => Shape.Value.Single(r => r.Point.Variant == variant && r.Point.Sharing == sharing && r.Point.Guests == guests
            && r.Point.EnvsPerGuest == envs && r.Point.Aslr == aslr);

    [Test]
    public void EveryPointSettles_AndEveryEnvironmentMapsTheWholeLibrary()
    {
        Assert.Multiple(() =>
        {
            foreach (PointResult r in Shape.Value)
            {
                Assert.That(r.Settled, Is.True, PointRunner.Describe(r.Point));
                Assert.That(r.LibMappings, Is.EqualTo((long)r.Point.Guests * r.Point.EnvsPerGuest * r.LibPages), PointRunner.Describe(r.Point));
            }
        });
    }

    [Test]
    public void PicWithSharingAll_KeepsAboutOneCopyOfTheLibrary_HoweverManyGuests()
    {
        PointResult one = Row("pic", SharingPolicy.All, 1), four = Row("pic", SharingPolicy.All, 4);
        Assert.Multiple(() =>
        {
            foreach (int g in new[] { 1, 2, 4 })
                Assert.That(Row("pic", SharingPolicy.All, g).LibMachineFrames, Is.LessThanOrEqualTo(one.LibPages * 11 / 10 + 2), $"{g} guests: about one copy");
            Assert.That(four.LibMachineFrames, Is.LessThanOrEqualTo(one.LibMachineFrames + 2), "four guests cost what one does");
            Assert.That(four.HvSharedFrames, Is.GreaterThanOrEqualTo(3 * one.LibPages * 9 / 10), "the hypervisor shares the other three guests' copies");
        });
    }

    [Test]
    public void SharingOff_GrowsLinearlyWithGuests_WhileEachKernelSharesTheLibraryAmongItsEnvironments()
    {
        PointResult one = Row("pic", SharingPolicy.Off, 1);
        Assert.Multiple(() =>
        {
            foreach (int g in new[] { 2, 4 })
            {
                PointResult r = Row("pic", SharingPolicy.Off, g);
                Assert.That(r.LibMachineFrames, Is.EqualTo(g * one.LibMachineFrames), $"{g} guests: {g} copies");
                Assert.That(r.MachineFrames, Is.EqualTo(g * one.MachineFrames), $"{g} guests: all memory");
                Assert.That(r.HvSharedFrames, Is.Zero);
            }

            // Two environments, one copy of the read-only pages: the guest kernel's own sharing (the page cache).
            Assert.That(one.GuestSharedFrames, Is.GreaterThanOrEqualTo(one.LibPages * 3 / 4), "the second environment maps the first one's frames");
            Assert.That(one.LibMachineFrames, Is.LessThan(2 * one.LibPages * 3 / 4), "well under two copies in one guest");
        });
    }

    [Test]
    public void NonPicWithAslr_CostsEveryEnvironmentItsRelocatedPages_EvenWithSharingAll()
    {
        PointResult e1 = Row("nonpic", SharingPolicy.All, 1, envs: 1, aslr: 1), e2 = Row("nonpic", SharingPolicy.All, 1, envs: 2, aslr: 1),
            e4 = Row("nonpic", SharingPolicy.All, 1, envs: 4, aslr: 1);
        double first = e2.LibMachineFrames - e1.LibMachineFrames, perEnv = (e4.LibMachineFrames - e2.LibMachineFrames) / 2.0;
        Assert.Multiple(() =>
        {
            Assert.That(e1.LibRelocatedPages, Is.GreaterThan(e1.LibPages / 2), "most of the non-PIC library is text that needs relocating");
            Assert.That(first, Is.GreaterThanOrEqualTo(e1.LibRelocatedPages), "a second environment: its own relocated pages");
            Assert.That(first, Is.LessThanOrEqualTo(e1.LibPages), "but not more than a whole copy");
            Assert.That(perEnv, Is.EqualTo(first).Within(2), "linear: every environment adds as much");
        });
    }

    [Test]
    public void SaltedGroups_ShareWithinAGroupAndNeverAcross()
    {
        PointResult salted = Row("pic", SharingPolicy.Salted, 4), all = Row("pic", SharingPolicy.All, 4), off = Row("pic", SharingPolicy.Off, 4);
        Assert.Multiple(() =>
        {
            Assert.That((double)salted.LibMachineFrames / all.LibMachineFrames, Is.InRange(1.8, 2.2), "two groups: two copies");
            Assert.That(salted.LibMachineFrames, Is.LessThan(off.LibMachineFrames * 3 / 4), "but fewer than four");
        });
    }

    [Test]
    public void ThePointRunTwice_GivesTheSameNumbers()
    {
        var config = SharedObjectConfig.Parse("""
            sweeps:
              - guests: 2
                envs_per_guest: 2
                variant: nonpic
                aslr: 1
                sharing: guest
            """, "test");
        PointResult a = SharedObjectExperiment.Run(config, 1, null)[0], b = SharedObjectExperiment.Run(config, 1, null)[0];
        Assert.That(b with { SettleSeconds = 0, WallSeconds = 0 }, Is.EqualTo(a with { SettleSeconds = 0, WallSeconds = 0 }));
    }

    [Test]
    public void Config_InYamlOrJson_IsTheCrossProductOfItsLists_EachPointOnce()
    {
        var yaml = SharedObjectConfig.Parse("""
            memory: 32M
            variant: nonpic
            sweeps:
              - guests: [1, 2]
                sharing: [off, all]
              - guests: 2
                sharing: all
            """, "yaml");
        var json = SharedObjectConfig.Parse("""{"memory": "32M", "variant": "nonpic", "sweeps": [{"guests": [1, 2], "sharing": ["off", "all"]}]}""", "json");
        Assert.Multiple(() =>
        {
            Assert.That(yaml.Points, Has.Count.EqualTo(4), "the second sweep's point is the first's");
            Assert.That(yaml.Points.Select(p => p with { Sweep = "" }), Is.EqualTo(json.Points.Select(p => p with { Sweep = "" })));
            Assert.That(yaml.Points.All(p => p.Variant == "nonpic" && p.LibKib == 64), "top-level and default values fill in");
            Assert.That(yaml.MemoryBytes, Is.EqualTo(32L << 20));
        });
    }

    [TestCase("sweeps: [{guests: 0}]", "guests '0'")]
    [TestCase("sweeps: [{lib_kib: 100}]", "lib_kib 100")]
    [TestCase("sweeps: [{variant: static}]", "variant 'static'")]
    [TestCase("sweeps: [{colour: red}]", "unknown key 'colour'")]
    [TestCase("guests: 2", "no sweeps")]
    public void Config_WithAMistake_SaysWhere(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => SharedObjectConfig.Parse(text, "my.yaml"));
        Assert.That(e!.Message, Does.StartWith("my.yaml").And.Contain(message));
    }

    [Test]
    public void Command_WritesTheResults_TheSummaryAndACharts()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"minihv-sharedobj-{Guid.NewGuid():N}");
        string config = dir + ".yaml";
        File.WriteAllText(config, "sweeps: [{guests: [1, 2], variant: [pic, nonpic], aslr: 1}]\n");
        try
        {
            CliResult r = CliRun.InProcess(["experiment", "sharedobj", "--config", config, "--out", dir]);
            Assert.That(r.Status, Is.Zero, r.ToString());
            string[] csv = File.ReadAllLines(Path.Combine(dir, "results.csv"));
            string[] header = csv[0].Split(',');
            Assert.Multiple(() =>
            {
                Assert.That(header, Is.SupersetOf(new[] { "guests", "envs_per_guest", "lib_kib", "variant", "aslr", "sharing", "guest_frames",
                    "machine_frames", "lib_machine_frames", "cow_breaks", "settle_seconds" }));
                Assert.That(csv, Has.Length.EqualTo(5), "a header and four points");
                Assert.That(File.ReadAllText(Path.Combine(dir, "results.json")), Does.Contain("\"lib_machine_frames\""));
                Assert.That(File.ReadAllText(Path.Combine(dir, "summary.md")), Does.Contain("Non-PIC with ASLR"));
                Assert.That(Directory.GetFiles(dir, "*.png"), Is.Not.Empty);
                Assert.That(new FileInfo(Directory.GetFiles(dir, "*.png")[0]).Length, Is.GreaterThan(10_000), "a real picture");
            });
        }
        finally
        {
            File.Delete(config);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Command_RefusesAnOutThatCannotBeWritten_BeforeRunningAnything()
    {
        string file = Path.GetTempFileName();
        try
        {
            CliResult r = CliRun.InProcess(["experiment", "sharedobj", "--quick", "--out", Path.Combine(file, "results")]);
            Assert.Multiple(() =>
            {
                Assert.That(r.Status, Is.EqualTo(2), r.ToString());
                Assert.That(r.Error, Does.StartWith("minihv: --out '"), r.ToString());
                Assert.That(r.Error, Does.Not.Contain("points,").And.Not.Contain("   at "), "refused before the sweep, without a stack trace");
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void ExperimentKernels_EachCarryOneBuildOfTheLibrary_OfTheirVariant()
    {
        Assert.Multiple(() =>
        {
            foreach (string variant in new[] { "pic", "nonpic" })
            foreach (int kib in SharedObjectConfig.LibraryKibs)
            {
                LibraryImage lib = LibraryImage.FromKernel(SharedObjectExperiment.EmbeddedKernel($"jos-{variant}-{kib}.elf"));
                Assert.That(lib.TextRelocations, Is.EqualTo(variant == "nonpic"), $"{variant} {kib}");
                Assert.That(lib.Pages * 4, Is.InRange(kib * 3 / 4, kib * 5 / 4), $"{variant} {kib}: about {kib} KiB");
                if (variant == "pic")
                    Assert.That(lib.RelocatedReadOnlyPages, Is.Zero, $"{kib}: PIC text needs no relocation");
            }
        });
    }
}

using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Sharing;

/// <summary>
/// Page sharing never changes what a guest sees: every JOS-style program and eight dedupwork guests print
/// the same transcripts and end with the same memory, byte for byte, whatever the policy, scheduler, scan
/// rate or seed; and sharing does save what it can.
/// </summary>
public class SharingEndToEndTests
{
    /// <summary>Every program of the golden manifest, and eight dedupwork guests in two salt groups.</summary>
    private static List<GuestToRun> Mix(int seedBase)
    {
        var guests = TestImages.Manifest("jos")
            .Select(f => new GuestToRun(f[0], TestImages.Jos, f[1], GuestRun.ParseQemuSize(f[2]), "programs"))
            .Where(g => g.Name != "dedupwork")
            .ToList();
        for (int i = 0; i < 8; i++)
        {
            guests.Add(new GuestToRun($"dedup{i}", TestImages.Jos,
                $"prog=dedupwork dedup.same=48 dedup.zero=24 dedup.unique=24 dedup.rewrite=20 dedup.rounds=6 seed={seedBase + i}",
                32L << 20, i % 2 == 0 ? "even" : "odd"));
        }

        return guests;
    }

    private static readonly Dictionary<int, SharedRunResult> Baselines = new();

    /// <summary>The reference: the same guests with sharing off, deterministic.</summary>
    private static SharedRunResult Baseline(int seedBase)
    {
        lock (Baselines)
        {
            if (!Baselines.TryGetValue(seedBase, out SharedRunResult? r))
                Baselines[seedBase] = r = SharedRun.Run(Mix(seedBase), SharingPolicy.Off, deterministic: true);
            return r;
        }
    }

    [TestCase(SharingPolicy.Guest, true, 2_000_000, 1)]
    [TestCase(SharingPolicy.All, true, 2_000_000, 1)]
    [TestCase(SharingPolicy.Salted, true, 2_000_000, 1)]
    [TestCase(SharingPolicy.Off, false, 2_000_000, 1)]
    [TestCase(SharingPolicy.Guest, false, 2_000_000, 1)]
    [TestCase(SharingPolicy.All, false, 2_000_000, 1)]
    [TestCase(SharingPolicy.Salted, false, 2_000_000, 1)]
    [TestCase(SharingPolicy.All, true, 100_000, 101)]
    [TestCase(SharingPolicy.All, true, 20_000_000, 101)]
    [TestCase(SharingPolicy.All, false, 20_000_000, 201)]
    [TestCase(SharingPolicy.Salted, true, 5_000_000, 201)]
    [TestCase(SharingPolicy.All, false, 64_000_000, 301, 2)]
    [TestCase(SharingPolicy.Salted, false, 64_000_000, 301, 2)]
    [TestCase(SharingPolicy.All, false, 500_000, 401, 1, true)]
    public void SharingNeverChangesWhatAGuestSees(SharingPolicy policy, bool deterministic, long scanRate, int seedBase,
        int scanThreads = 1, bool scanAuto = false)
    {
        SharedRunResult baseline = Baseline(seedBase);
        SharedRunResult run = SharedRun.Run(Mix(seedBase), policy, deterministic, scanRate, scanAuto: scanAuto, scanThreads: scanThreads);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < run.Guests.Count; i++)
            {
                GuestOutcome g = run.Guests[i], b = baseline.Guests[i];
                Assert.That(g.Transcript, Is.EqualTo(b.Transcript), g.Name);
                Assert.That(g.MemoryHash, Is.EqualTo(b.MemoryHash), () => $"{g.Name}: final memory differs");
                Assert.That(g.Exit.Kind, Is.EqualTo(Hv.Machine.VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                if (!g.Name.StartsWith("dedup", StringComparison.Ordinal))
                    Assert.That(g.Transcript, Is.EqualTo(TestImages.Golden("jos", g.Name)), g.Name);
                else
                    Assert.That(g.Transcript, Does.Contain(" 0 mismatches"), g.Name);
            }
        });

        if (policy != SharingPolicy.Off)
        {
            // The engine really acted: frames were merged (within a guest, only zero frames repeat), and
            // rewrites broke some of them again.
            SharingStats s = run.Sharing ?? throw new InvalidOperationException("no engine");
            Assert.That(s.Merges + s.ZeroMerges, Is.GreaterThan(50), "merges");
            Assert.That(s.CowBreaks + s.ZeroBreaks, Is.GreaterThan(0), "breaks");
            if (policy != SharingPolicy.Guest)
                Assert.That(s.Merges, Is.GreaterThan(50), "frames merged across guests");
            Assert.That(run.Sharing.FullScans, Is.GreaterThanOrEqualTo(2));
        }
    }

    [Test]
    public void EightIdenticalIdleGuests_ReachNinetyFivePercentOfTheMaximumSaving_WithinThreeFullScans()
    {
        var guests = Enumerable.Range(1, 8)
            .Select(i => new GuestToRun($"idle{i}", TestImages.Jos, "prog=hello jos.idle=100", 32L << 20)).ToList();

        // 8 x 8192 frames a scan; at this rate a full scan takes 0.03 s of virtual time, the idling 1 s.
        SharedRunResult run = SharedRun.Run(guests, SharingPolicy.All, deterministic: true, scanRate: 2_000_000);
        Assert.That(run.Guests.Select(g => g.Transcript).Distinct().Count(), Is.EqualTo(1));

        // Once the guests idle, the first full scan records checksums, the second merges; by the third
        // the saving must be there.
        long booted = 8 * GuestRun.Boot(TestImages.Jos, "prog=hello", 32L << 20).Instructions;
        int idle = run.Samples.ToList().FindIndex(x => x.Instructions >= booted);
        Assert.That(idle, Is.GreaterThanOrEqualTo(0).And.LessThan(run.Samples.Count - 3), "three full scans while idle");
        SharingSample third = run.Samples[idle + 3];
        double efficiency = (double)(third.GuestFramesInUse - third.MachineFramesInUse) / (third.GuestFramesInUse - third.DistinctContents);
        Assert.That(efficiency, Is.GreaterThanOrEqualTo(0.95), () => $"after 3 scans of idle guests: {third}");
        Assert.That(run.Census.Efficiency, Is.GreaterThanOrEqualTo(0.95), () => $"at the end: {run.Census}");
        Assert.That(run.Census.MachineFramesInUse, Is.LessThan(run.Census.GuestFramesInUse / 4), "eight copies cost well under two");
    }

    [Test]
    public void MergedFrames_AreAttributedToWhatTheyHold()
    {
        var guests = Enumerable.Range(1, 4)
            .Select(i => new GuestToRun($"g{i}", TestImages.Jos, "prog=dedupwork dedup.rounds=12 dedup.passes=2", 32L << 20)).ToList();
        // Full passes at fixed points see the pages while dedupwork still holds them.
        SharedRunResult run = SharedRun.Run(guests, SharingPolicy.All, deterministic: true, scanRate: 5_000_000, scanFullEvery: 2_000_000);
        var by = run.ByContent!;
        Assert.That(by[FrameContent.KernelText], Is.GreaterThan(4 * 20), "the four kernels' text is the same");
        Assert.That(by[FrameContent.UserData], Is.GreaterThan(4 * 32), "dedupwork's same pages, in its user data");
        Assert.That(by[FrameContent.Zero], Is.GreaterThan(0));
        Assert.That(by.Values.Sum(), Is.GreaterThan(run.Sharing!.PagesSharing), "every guest frame on a shared frame counts, the first sharer too");
    }

    [Test]
    public void SaltedGroups_NeverShareAcrossGroups()
    {
        // Two groups of two identical idle guests: the machine holds about two copies, never one.
        var guests = new[] { "a", "a", "b", "b" }
            .Select((salt, i) => new GuestToRun($"g{i}", TestImages.Jos, "prog=hello jos.idle=50", 32L << 20, salt)).ToList();
        SharedRunResult salted = SharedRun.Run(guests, SharingPolicy.Salted, deterministic: true, scanRate: 2_000_000);
        SharedRunResult all = SharedRun.Run(guests, SharingPolicy.All, deterministic: true, scanRate: 2_000_000);
        long perGuest = salted.Census.GuestFramesInUse / 4;
        Assert.That(salted.Census.MachineFramesInUse, Is.GreaterThan(perGuest * 3 / 2), "two groups: two copies");
        Assert.That(all.Census.MachineFramesInUse, Is.LessThan(perGuest * 3 / 2), "one group: one copy");
    }
}

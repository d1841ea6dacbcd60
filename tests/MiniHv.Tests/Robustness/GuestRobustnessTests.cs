using MiniHv.Hv.Machine;

namespace MiniHv.Tests.Robustness;

/// <summary>
/// No guest can harm the host: generated bad guests (random code, tables, paging, stacks, fault loops, far
/// transfers, string instructions, port I/O, self-modifying code) run beside a healthy JOS-style guest on one
/// machine memory pool. Each bad guest must stop with a reason a user can act on, never with an emulator error;
/// nothing may escape to the host, hang, or disturb the healthy guest, and the pool must come back whole.
/// </summary>
[Category("Robustness")]
public class GuestRobustnessTests
{
    /// <summary>The reasons a bad guest may stop for; <see cref="VmExitKind.EmulatorError"/> is a MiniHv bug, and so is a stop from outside.</summary>
    private static readonly VmExitKind[] ExpectedKinds =
    [
        VmExitKind.TripleFault, VmExitKind.HaltedForever, VmExitKind.InstructionLimit, VmExitKind.TimeLimit,
        VmExitKind.Unsupported, VmExitKind.DebugExit, VmExitKind.OutOfMemory, VmExitKind.Reset,
    ];

    [Test]
    public void AThousandBadGuestsBesideAHealthyOne_EachStopsWithAReason_AndNothingElseIsHarmed()
    {
        RobustnessReport report = new RoundRobinRun { FirstSeed = 1, GuestCount = 1000, Progress = TestContext.Progress }.Execute();
        TestContext.Out.WriteLine(report.Summary());
        AssertHarmless(report, 1000);
    }

    [Test]
    public void BadMultiprocessorGuests_StartingTheirProcessorsOnGarbage_EachStopWithAReason()
    {
        // Every kind with four processors; one in ten (RandomIpis) sends random INIT, STARTUP, NMI and other IPIs.
        RobustnessReport report = new RoundRobinRun { FirstSeed = 5_000, GuestCount = 300, Processors = 4, Progress = TestContext.Progress }.Execute();
        TestContext.Out.WriteLine(report.Summary());
        AssertHarmless(report, 300);
    }

    [Test]
    public void BadGuestsSharingAPoolTooSmallForThem_StopWithOutOfMemory_AndThePoolComesBackWhole()
    {
        // 200 frames for three guests at a time: enough to load them, not for what they write, so machine memory runs
        // out in the middle of their instructions (stores, page walks, exception frames, string instructions).
        RobustnessReport report = new RoundRobinRun
        {
            FirstSeed = 50_000, GuestCount = 150, Lanes = 1, GuestsPerLane = 3, WithHealthyGuest = false, PoolFrames = 200,
            Progress = TestContext.Progress,
        }.Execute();
        TestContext.Out.WriteLine(report.Summary());
        Assert.Multiple(() =>
        {
            Assert.That(report.Failures.Where(f => !f.Contains("did not start", StringComparison.Ordinal)), Is.Empty,
                () => string.Join("\n\n", report.Failures.Take(10)));
            Assert.That(report.ExitKinds().GetValueOrDefault(VmExitKind.OutOfMemory), Is.GreaterThan(0), "some guests ran out");
            Assert.That(report.Outcomes.Where(o => o.Exit?.Kind == VmExitKind.EmulatorError), Is.Empty);
            Assert.That(report.FramesInUseAfterDispose, Is.Zero, "every machine frame went back to the pool");
            Assert.That(report.ZeroFrameIntact, Is.True, "the zero frame still holds only zeros");
        });
    }

    [Test]
    [Explicit("20,000 guests: several minutes; for manual runs (seeds from the parameter robustness.firstSeed, default 100000)")]
    public void TwentyThousandBadGuestsBesideAHealthyOne_EachStopsWithAReason_AndNothingElseIsHarmed()
    {
        int first = int.Parse(TestContext.Parameters.Get("robustness.firstSeed", "100000"));
        RobustnessReport report = new RoundRobinRun { FirstSeed = first, GuestCount = 20_000, Progress = TestContext.Progress }.Execute();
        TestContext.Out.WriteLine(report.Summary());
        AssertHarmless(report, 20_000);
    }

    [Test]
    [Explicit("one seed, for reproducing a failure: the parameters robustness.firstSeed and robustness.count")]
    public void SomeSeeds_EachStopsWithAReason()
    {
        int first = int.Parse(TestContext.Parameters.Get("robustness.firstSeed", "1"));
        int count = int.Parse(TestContext.Parameters.Get("robustness.count", "1"));
        RobustnessReport report = new RoundRobinRun { FirstSeed = first, GuestCount = count, Progress = TestContext.Progress }.Execute();
        TestContext.Out.WriteLine(report.Summary());
        foreach (BadGuestOutcome o in report.Outcomes)
            TestContext.Out.WriteLine($"{o.Guest}: {o.Exit?.Message} after {o.Instructions} instructions, {o.HostTime.TotalMilliseconds:0} ms");
        AssertHarmless(report, count);
    }

    private static void AssertHarmless(RobustnessReport report, int guests)
    {
        Assert.Multiple(() =>
        {
            Assert.That(report.Failures, Is.Empty, () => string.Join("\n\n", report.Failures.Take(10)));
            Assert.That(report.Outcomes, Has.Count.EqualTo(guests));
            var unexpected = report.Outcomes
                .Where(o => o.Exit == null || !ExpectedKinds.Contains(o.Exit.Kind))
                .ToList();
            Assert.That(unexpected, Is.Empty,
                () => string.Join("\n", unexpected.Take(10).Select(o => $"{o.Guest}: {o.Exit?.Message ?? "no exit"}")));
            Assert.That(report.HealthyRuns, Is.GreaterThanOrEqualTo(1), "the healthy guest ran to its end");
            Assert.That(report.FramesInUseAfterDispose, Is.Zero, "every machine frame went back to the pool");
            Assert.That(report.ZeroFrameIntact, Is.True, "the zero frame still holds only zeros");
        });
    }
}

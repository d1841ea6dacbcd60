using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;

namespace MiniHv.Tests.Overcommit;

/// <summary>The idle-memory estimate: sampled accessed bits, believed at once when use grows and slowly when it falls.</summary>
public class IdleMemorySamplerTests
{
    private const int Page = MachineMemory.FrameSize;
    private const long Period = 1000;

    /// <summary>Accessed bits the test sets: every gfn below <see cref="UsedBelow"/> counts as used in each period.</summary>
    private sealed class UseBelow : IAccessedBits
    {
        public uint UsedBelow { get; set; }

        public bool HarvestAccessed(uint gfn) => gfn < UsedBelow;
    }

    private static double RunPeriods(IdleMemorySampler sampler, ref long clock, int periods)
    {
        for (int i = 0; i < periods; i++)
        {
            clock += Period;
            sampler.AtSafepoint(clock);
        }

        return sampler.ActiveFraction;
    }

    [Test]
    public void AGuestUsingAQuarterOfItsFrames_IsEstimatedNearAQuarter_ThenAtOnceHigherWhenItUsesThemAll()
    {
        using var pool = new MachineMemory(1024);
        using var guest = new GuestPhysicalMemory(pool, 800L * Page);
        for (uint gfn = 0; gfn < 800; gfn++)
            guest.WriteUInt32(gfn * Page, gfn + 1);
        var bits = new UseBelow { UsedBelow = 200 };
        var sampler = new IdleMemorySampler(guest, bits, Period, seed: 1);
        long clock = 0;
        sampler.AtSafepoint(clock);

        Assert.That(sampler.ActiveFraction, Is.EqualTo(1), "nothing measured yet: every frame counts as active");
        double quarter = RunPeriods(sampler, ref clock, 60);
        Assert.That(quarter, Is.EqualTo(0.25).Within(0.1));
        Assert.That(sampler.Periods, Is.EqualTo(60));

        bits.UsedBelow = 800;
        Assert.That(RunPeriods(sampler, ref clock, 1), Is.GreaterThan(0.55), "the fast average sees the change in one period");
    }

    [Test]
    public void BeforeThePeriodEnds_NothingIsMeasured()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 32L * Page);
        for (uint gfn = 0; gfn < 32; gfn++)
            guest.WriteUInt32(gfn * Page, 1);
        var sampler = new IdleMemorySampler(guest, new UseBelow(), Period, seed: 1);
        sampler.AtSafepoint(0);
        sampler.AtSafepoint(Period - 1);

        Assert.That(sampler.Periods, Is.Zero);
        Assert.That(sampler.ActiveFraction, Is.EqualTo(1));
    }
}

using MiniHv.Hv.Devices.Apic;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Tests.Devices.Apic;

public class LocalApicTimerTests
{
    private const uint OneShot = 0;
    private const uint Periodic = LvtTimerPeriodic;
    private const uint DivideBy1 = 0xB;

    private LocalApic _apic = null!;

    // One bus tick per instruction makes counts easy to reason about.
    [SetUp]
    public void SetUp() => _apic = new LocalApic(instructionsPerSecond: 1_000_000, busHz: 1_000_000);

    private uint Read(uint register) => _apic.ReadMmio(register, 4);

    private void Write(uint register, uint value) => _apic.WriteMmio(register, 4, value);

    private void Start(uint mode, uint divide, uint count, byte vector = 0x20)
    {
        Write(TimerDivideConfiguration, divide);
        Write(LvtTimer, mode | vector);
        Write(TimerInitialCount, count);
    }

    [TestCase(0x0u, 2)]
    [TestCase(0x1u, 4)]
    [TestCase(0x2u, 8)]
    [TestCase(0x3u, 16)]
    [TestCase(0x8u, 32)]
    [TestCase(0x9u, 64)]
    [TestCase(0xAu, 128)]
    [TestCase(0xBu, 1)]
    public void DivideConfiguration_SlowsTheCountByItsDivisor(uint configuration, int divisor)
    {
        Start(OneShot, configuration, 1000);
        Assert.That(Read(TimerDivideConfiguration), Is.EqualTo(configuration));
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(1000L * divisor));

        _apic.Advance(10L * divisor);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(990));
        _apic.Advance(10L * divisor - 1);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(981), "a partial divider period does not count");
    }

    [Test]
    public void DivideConfiguration_IgnoresTheReservedBits()
    {
        Write(TimerDivideConfiguration, 0xFFFF_FFF4);
        Assert.That(Read(TimerDivideConfiguration), Is.Zero, "bit 2 and bits 4-31 are reserved");
    }

    [Test]
    public void OneShot_RaisesItsVectorOnce_AndTheCountStopsAtZero()
    {
        Start(OneShot, DivideBy1, 500, 0x30);
        _apic.Advance(499);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(1));

        _apic.Advance(1);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x30));
        Assert.That(Read(TimerCurrentCount), Is.Zero);
        Assert.That(Read(TimerInitialCount), Is.EqualTo(500));
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));

        _apic.Advance(10_000);
        Assert.That(_apic.TimerInterrupts, Is.EqualTo(1));
    }

    [Test]
    public void Periodic_ReloadsAndInterruptsEveryPeriod()
    {
        Start(Periodic, DivideBy1, 250, 0x30);
        var times = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            _apic.Advance(_apic.InstructionsUntilNextEvent());
            Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x30));
            Write(EndOfInterrupt, 0);
            times.Add(_apic.Instructions);
        }
        Assert.That(times, Is.EqualTo(new long[] { 250, 500, 750, 1000, 1250 }));
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(250), "reloaded at terminal count");

        _apic.Advance(100);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(150));
    }

    [Test]
    public void AdvanceOverSeveralPeriods_CoalescesIntoOneRequest()
    {
        Start(Periodic, DivideBy1, 100);
        _apic.Advance(550);
        Assert.That(_apic.TimerInterrupts, Is.EqualTo(1));
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(50));
    }

    [Test]
    public void MaskedTimer_CountsButRaisesNothing()
    {
        Start(Periodic | LvtMasked, DivideBy1, 100);
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));
        _apic.Advance(1000);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(100));

        _apic.Advance(30);
        Write(LvtTimer, Periodic | 0x20);
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(70));
    }

    [Test]
    public void InitialCountZero_StopsTheTimer()
    {
        Start(Periodic, DivideBy1, 100);
        _apic.Advance(40);
        Write(TimerInitialCount, 0);
        Assert.That(Read(TimerCurrentCount), Is.Zero);
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));
        _apic.Advance(1000);
        Assert.That(_apic.TimerInterrupts, Is.Zero);
    }

    [Test]
    public void WritingTheInitialCount_RestartsTheCount()
    {
        Start(OneShot, DivideBy1, 100);
        _apic.Advance(60);
        Write(TimerInitialCount, 100);
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(100));
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(100));
    }

    [Test]
    public void ChangingTheDivisorMidCount_KeepsTheCountReached()
    {
        Start(OneShot, DivideBy1, 100);
        _apic.Advance(40);
        Write(TimerDivideConfiguration, 0x0); // divide by 2
        Assert.That(Read(TimerCurrentCount), Is.EqualTo(60));
        Assert.That(_apic.InstructionsUntilNextEvent(), Is.EqualTo(120));
    }

    [Test]
    public void Xv6AndJosSetting_TicksAt100HzOfVirtualTime()
    {
        // Default clocks: 1 GHz bus, 100 M instructions per virtual second.
        var apic = new LocalApic();
        apic.WriteMmio(LocalApicRegisters.SpuriousVector, 4, SvrEnable | 0x3F);
        apic.WriteMmio(TimerDivideConfiguration, 4, DivideBy1);
        apic.WriteMmio(LvtTimer, 4, Periodic | 0x20);
        apic.WriteMmio(TimerInitialCount, 4, 10_000_000);

        for (int i = 0; i < 10; i++)
        {
            long wait = apic.InstructionsUntilNextEvent();
            Assert.That(wait, Is.EqualTo(1_000_000));
            apic.Advance(wait);
            Assert.That(apic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
            apic.WriteMmio(EndOfInterrupt, 4, 0);
        }
        Assert.That(apic.Instructions, Is.EqualTo(10_000_000), "ten ticks at 100 Hz is 0.1 virtual s");
    }

    [Test]
    public void UnevenClockRatio_WaitIsTheFirstInstructionCountThatReachesTheExpiry()
    {
        // 3 bus ticks per 7 instructions: an expiry 300 bus ticks away is 700 instructions away.
        var apic = new LocalApic(instructionsPerSecond: 7_000_000, busHz: 3_000_000);
        apic.WriteMmio(TimerDivideConfiguration, 4, DivideBy1);
        apic.WriteMmio(LvtTimer, 4, 0x20);
        apic.WriteMmio(TimerInitialCount, 4, 301);

        long wait = apic.InstructionsUntilNextEvent();
        Assert.That(wait, Is.EqualTo(703)); // ceil(301 * 7 / 3)
        apic.Advance(wait - 1);
        Assert.That(apic.HasPendingInterrupt, Is.False);
        apic.Advance(1);
        Assert.That(apic.HasPendingInterrupt, Is.True);
    }
}

using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class Pit8254Tests
{
    private IoBus _bus = null!;
    private RecordingIrqLines _irqs = null!;
    private Pit8254 _pit = null!;

    private void Create(long instructionsPerSecond)
    {
        _bus = new IoBus();
        _irqs = new RecordingIrqLines();
        _pit = new Pit8254(_irqs, instructionsPerSecond);
        _pit.Attach(_bus);
    }

    // One instruction per PIT tick makes counts easy to reason about.
    [SetUp]
    public void SetUp() => Create(Pit8254.InputHz);

    private void Program(int channel, byte mode, ushort count)
    {
        _bus.Out(0x43, 1, (uint)(channel << 6 | 0x30 | mode << 1));
        _bus.Out((ushort)(0x40 + channel), 1, (uint)(count & 0xFF));
        _bus.Out((ushort)(0x40 + channel), 1, (uint)(count >> 8));
    }

    private int ReadCount(int channel)
    {
        uint lo = _bus.In((ushort)(0x40 + channel), 1);
        uint hi = _bus.In((ushort)(0x40 + channel), 1);
        return (int)(hi << 8 | lo);
    }

    [Test]
    public void Divisor11932_At100MInstructionsPerSecond_InterruptsEveryMillionInstructions()
    {
        Create(100_000_000);
        Program(0, 2, 11932);

        long period = _pit.InstructionsUntilNextEvent();
        Assert.That(period, Is.InRange(1_000_000, 1_000_100));

        _pit.Advance(period - 1);
        Assert.That(_irqs.RisingEdges(0), Is.Zero);
        _pit.Advance(1);
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(1));

        for (int i = 0; i < 9; i++)
            _pit.Advance(_pit.InstructionsUntilNextEvent());
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(10));
        Assert.That(_pit.Instructions, Is.InRange(10_000_000, 10_000_200), "ten ticks at 100 Hz is 0.1 virtual s");
    }

    [Test]
    public void AdvanceOverSeveralPeriods_CoalescesIntoOneEdge()
    {
        Program(0, 2, 1000);
        _pit.Advance(5500);
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(1));
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(500));
    }

    [Test]
    public void SquareWaveMode3_InterruptsOncePerPeriod()
    {
        Program(0, 3, 100);
        for (int i = 0; i < 10; i++)
            _pit.Advance(50);
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(5));
    }

    [Test]
    public void Mode0_FiresOnceAtTerminalCount()
    {
        Program(0, 0, 1000);
        Assert.That(_irqs.IsHigh(0), Is.False);
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(1000));

        _pit.Advance(999);
        Assert.That(_irqs.RisingEdges(0), Is.Zero);
        _pit.Advance(1);
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(1));

        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));
        _pit.Advance(100_000);
        Assert.That(_irqs.RisingEdges(0), Is.EqualTo(1));
    }

    [Test]
    public void NothingProgrammed_NoEvent()
    {
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));
    }

    [Test]
    public void CountReadsDownAndLatchHoldsTheValue()
    {
        Program(0, 2, 10000);
        _pit.Advance(1000);
        Assert.That(ReadCount(0), Is.EqualTo(9000));

        _bus.Out(0x43, 1, 0x00); // latch channel 0
        _pit.Advance(500);
        Assert.That(ReadCount(0), Is.EqualTo(9000), "the latched count");
        Assert.That(ReadCount(0), Is.EqualTo(8500), "live again after the latch was read");
    }

    [Test]
    public void ReloadZero_Means65536()
    {
        Program(0, 2, 0);
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(65536));
        _pit.Advance(1);
        Assert.That(ReadCount(0), Is.EqualTo(65535));
    }

    [Test]
    public void LobyteOnlyAccess_LoadsAndReadsOneByte()
    {
        _bus.Out(0x43, 1, 0x10); // channel 0, LSB only, mode 0
        _bus.Out(0x40, 1, 200);
        _pit.Advance(50);
        Assert.That(_bus.In(0x40, 1), Is.EqualTo(150));
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(150));
    }

    [Test]
    public void HibyteOnlyAccess_LoadsTheHighByte()
    {
        _bus.Out(0x43, 1, 0x24); // channel 0, MSB only, mode 2
        _bus.Out(0x40, 1, 0x02);
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(0x200));
    }

    [Test]
    public void ReadBack_LatchesStatusWithOutputAndMode()
    {
        Program(0, 2, 100);
        _bus.Out(0x43, 1, 0xE2); // read-back: status only, channel 0
        Assert.That(_bus.In(0x40, 1), Is.EqualTo(0x80 | 0x30 | 2 << 1), "OUT high, LSB/MSB, mode 2, count loaded");
    }

    [Test]
    public void NewCountInMode2_TakesEffectAtTheEndOfThePeriod()
    {
        Program(0, 2, 1000);
        _pit.Advance(400);
        _bus.Out(0x40, 1, 100);
        _bus.Out(0x40, 1, 0);
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(600));
        _pit.Advance(600);
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(100));
    }

    [Test]
    public void Channel2_OutputShowsOnPort61WhenGated()
    {
        _bus.Out(0x61, 1, 0x00); // gate low
        Program(2, 0, 100);
        _pit.Advance(500);
        Assert.That(_bus.In(0x61, 1) & 0x20, Is.Zero, "counting waits for the gate");

        _bus.Out(0x61, 1, 0x01);
        _pit.Advance(99);
        Assert.That(_bus.In(0x61, 1) & 0x20, Is.Zero);
        _pit.Advance(1);
        Assert.That(_bus.In(0x61, 1) & 0x21, Is.EqualTo(0x21));
        Assert.That(_irqs.RisingEdges(0), Is.Zero, "channel 2 is not wired to IRQ 0");
    }

    [Test]
    public void RefreshBit_TogglesAsTimePasses()
    {
        uint first = _bus.In(0x61, 1) & 0x10;
        _pit.Advance(18);
        Assert.That(_bus.In(0x61, 1) & 0x10, Is.Not.EqualTo(first));
    }

    [Test]
    public void BcdCount_CountsInDecimal()
    {
        _bus.Out(0x43, 1, 0x35); // channel 0, LSB/MSB, mode 2, BCD
        _bus.Out(0x40, 1, 0x00);
        _bus.Out(0x40, 1, 0x10); // 1000 in BCD
        Assert.That(_pit.InstructionsUntilNextEvent(), Is.EqualTo(1000));
        _pit.Advance(1);
        Assert.That(ReadCount(0), Is.EqualTo(0x0999));
    }

    [Test]
    public void VirtualTime_FollowsTheInstructionRate()
    {
        Create(100_000_000);
        _pit.Advance(250_000_000);
        Assert.That(_pit.VirtualTime, Is.EqualTo(TimeSpan.FromSeconds(2.5)));
    }
}

using System.Text;
using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

/// <summary>The devices wired together as the machine will wire them, driven the way tests/kernels drive them.</summary>
public class DeviceScenarioTests
{
    private IoBus _bus = null!;
    private Pic8259Pair _pic = null!;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _pic = new Pic8259Pair();
        _pic.Attach(_bus);
    }

    /// <summary>tests/kernels/lib/pic.c pic_remap, then unmask <paramref name="irq"/>.</summary>
    private void RemapAndUnmask(int irq)
    {
        foreach ((ushort port, byte value) in new (ushort, byte)[]
                 {
                     (0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28),
                     (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01),
                 })
        {
            _bus.Out(port, 1, value);
        }
        ushort mask = (ushort)(0xFFFF & ~(1 << 2) & ~(1 << irq));
        _bus.Out(0x21, 1, (uint)(mask & 0xFF));
        _bus.Out(0xA1, 1, (uint)(mask >> 8));
    }

    [Test]
    public void TimerKernel_TakesTenTicksOneMillionInstructionsApart()
    {
        var pit = new Pit8254(_pic, 100_000_000);
        pit.Attach(_bus);
        RemapAndUnmask(0);
        _bus.Out(0x43, 1, 0x34);
        _bus.Out(0x40, 1, 11932 & 0xFF);
        _bus.Out(0x40, 1, 11932 >> 8);

        var tickTimes = new List<long>();
        while (tickTimes.Count < 10)
        {
            // The machine loop: run the CPU (here: nothing) up to the next timer event, then deliver.
            pit.Advance(pit.InstructionsUntilNextEvent());
            Assert.That(_pic.HasPendingInterrupt, Is.True);
            Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(32));
            tickTimes.Add(pit.Instructions);
            _bus.Out(0x20, 1, 0x20);
        }

        for (int i = 1; i < tickTimes.Count; i++)
            Assert.That(tickTimes[i] - tickTimes[i - 1], Is.InRange(1_000_014, 1_000_016));
    }

    [Test]
    public void TimerTicksWithoutEoi_AreHeldOffNotQueued()
    {
        var pit = new Pit8254(_pic, 100_000_000);
        pit.Attach(_bus);
        RemapAndUnmask(0);
        _bus.Out(0x43, 1, 0x34);
        _bus.Out(0x40, 1, 11932 & 0xFF);
        _bus.Out(0x40, 1, 11932 >> 8);

        pit.Advance(pit.InstructionsUntilNextEvent());
        _ = _pic.AcknowledgeInterrupt();
        for (int i = 0; i < 3; i++)
            pit.Advance(pit.InstructionsUntilNextEvent());
        Assert.That(_pic.HasPendingInterrupt, Is.False, "IRQ 0 is still in service");

        _bus.Out(0x20, 1, 0x20);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(32));
        _bus.Out(0x20, 1, 0x20);
        Assert.That(_pic.HasPendingInterrupt, Is.False, "three missed ticks became one request");
    }

    [Test]
    public void EchoKernel_ReceivesALineThroughIrq4()
    {
        var output = new List<byte>();
        var uart = new Uart16550(_pic, output.Add);
        uart.Attach(_bus);
        // tests/kernels/lib/serial.c serial_init
        _bus.Out(0x3F9, 1, 0x00);
        _bus.Out(0x3FB, 1, 0x80);
        _bus.Out(0x3F8, 1, 0x01);
        _bus.Out(0x3F9, 1, 0x00);
        _bus.Out(0x3FB, 1, 0x03);
        _bus.Out(0x3FC, 1, 0x0B);
        RemapAndUnmask(4);
        _bus.Out(0x3F9, 1, 0x01);

        uart.EnqueueInput("hello, world\n"u8);
        var line = new StringBuilder();
        while (!line.ToString().EndsWith('\n'))
        {
            uart.Poll();
            Assert.That(_pic.HasPendingInterrupt, Is.True);
            Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
            _ = _bus.In(0x3FA, 1);
            while ((_bus.In(0x3FD, 1) & 1) != 0)
                line.Append((char)_bus.In(0x3F8, 1));
            _bus.Out(0x20, 1, 0x20);
        }

        Assert.That(line.ToString(), Is.EqualTo("hello, world\n"));
        Assert.That(_pic.HasPendingInterrupt, Is.False);
    }
}

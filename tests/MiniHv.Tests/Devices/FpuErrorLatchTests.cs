using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

/// <summary>FERR# on a PC: an x87 error with CR0.NE=0 raises IRQ 13 until the handler writes port 0xF0.</summary>
public class FpuErrorLatchTests
{
    private sealed class Lines : IIrqLines
    {
        public readonly List<(int Irq, bool High)> Changes = new();

        public void RaiseIrq(int irq) => Changes.Add((irq, true));

        public void LowerIrq(int irq) => Changes.Add((irq, false));
    }

    [Test]
    public void Signal_RaisesIrq13_AndAWriteToPortF0_LowersIt()
    {
        var lines = new Lines();
        var latch = new FpuErrorLatch(lines);
        latch.Signal();
        Assert.That(latch.Asserted, Is.True);
        latch.WritePort(0xF0, 1, 0);
        Assert.That(latch.Asserted, Is.False);
        Assert.That(lines.Changes, Is.EqualTo(new[] { (13, true), (13, false) }));
    }
}

using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class Pic8259PairTests
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

    /// <summary>The remap sequence every teaching kernel uses: vectors 0x20 and 0x28, slave on IRQ 2.</summary>
    private void Remap(byte icw4 = 0x01, ushort mask = 0x0000)
    {
        _bus.Out(0x20, 1, 0x11);
        _bus.Out(0xA0, 1, 0x11);
        _bus.Out(0x21, 1, 0x20);
        _bus.Out(0xA1, 1, 0x28);
        _bus.Out(0x21, 1, 0x04);
        _bus.Out(0xA1, 1, 0x02);
        _bus.Out(0x21, 1, icw4);
        _bus.Out(0xA1, 1, icw4);
        _bus.Out(0x21, 1, (uint)(mask & 0xFF));
        _bus.Out(0xA1, 1, (uint)(mask >> 8));
    }

    private void Eoi(int irq)
    {
        if (irq >= 8)
            _bus.Out(0xA0, 1, 0x20);
        _bus.Out(0x20, 1, 0x20);
    }

    private void Pulse(int irq)
    {
        _pic.RaiseIrq(irq);
        _pic.LowerIrq(irq);
    }

    [Test]
    public void BeforeInitialisation_EverythingButTheCascadeIsMasked()
    {
        _pic.RaiseIrq(0);
        Assert.That(_pic.HasPendingInterrupt, Is.False);
        Assert.That(_bus.In(0x21, 1), Is.EqualTo(0xFB));
    }

    [Test]
    public void Init_SetsVectorBasesAndMasksReadBack()
    {
        Remap(mask: 0xFFFB);
        Assert.That(_pic.VectorBase(slave: false), Is.EqualTo(0x20));
        Assert.That(_pic.VectorBase(slave: true), Is.EqualTo(0x28));
        Assert.That(_bus.In(0x21, 1), Is.EqualTo(0xFB));
        Assert.That(_bus.In(0xA1, 1), Is.EqualTo(0xFF));
    }

    [Test]
    public void MaskedIrq_WaitsUntilUnmasked()
    {
        Remap(mask: 0xFFFB);
        Pulse(0);
        Assert.That(_pic.HasPendingInterrupt, Is.False);

        _bus.Out(0x21, 1, 0xFA);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
    }

    [Test]
    public void LowerIrqWins_AndInServiceBlocksLowerPriorityUntilEoi()
    {
        Remap();
        Pulse(3);
        Pulse(1);

        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x21));
        Assert.That(_pic.HasPendingInterrupt, Is.False, "IRQ 3 must wait while IRQ 1 is in service");

        Eoi(1);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x23));
    }

    [Test]
    public void HigherPriorityIrq_InterruptsALowerOneInService()
    {
        Remap();
        Pulse(4);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x24));

        Pulse(0);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
        Assert.That(_pic.Isr, Is.EqualTo(0x11));

        Eoi(0); // non-specific EOI ends the highest priority in service: IRQ 0
        Assert.That(_pic.Isr, Is.EqualTo(0x10));
    }

    [Test]
    public void SpecificEoi_EndsTheNamedLevel()
    {
        Remap();
        Pulse(4);
        _ = _pic.AcknowledgeInterrupt();
        Pulse(0);
        _ = _pic.AcknowledgeInterrupt();

        _bus.Out(0x20, 1, 0x60 | 4);
        Assert.That(_pic.Isr, Is.EqualTo(0x01));
    }

    [Test]
    public void SlaveIrq_ComesThroughTheCascadeWithTheSlaveVector()
    {
        Remap();
        Pulse(12);

        Assert.That(_pic.HasPendingInterrupt, Is.True);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x2C));
        Assert.That(_pic.Isr, Is.EqualTo((1 << 12) | (1 << 2)));

        Eoi(12);
        Assert.That(_pic.Isr, Is.Zero);
    }

    [Test]
    public void TwoSlaveIrqs_AreBothDeliveredAfterEois()
    {
        Remap();
        Pulse(9);
        Pulse(14);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x29));
        Assert.That(_pic.HasPendingInterrupt, Is.False);
        Eoi(9);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x2E));
    }

    [Test]
    public void AcknowledgeWithNothingPending_GivesSpuriousIrq7AndLeavesIsrAlone()
    {
        Remap();
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x27));
        Assert.That(_pic.Isr, Is.Zero);
    }

    [Test]
    public void SlaveRequestWithdrawnBeforeAcknowledge_GivesSpuriousIrq15()
    {
        Remap();
        Pulse(10);
        _bus.Out(0xA1, 1, 0x04); // the guest masks IRQ 10 after the master latched the cascade request

        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x2F));
        Assert.That(_pic.Isr, Is.EqualTo(1 << 2), "the master still put the cascade in service");
    }

    [Test]
    public void EdgeTriggered_HeldLineRequestsOnce()
    {
        Remap();
        _pic.RaiseIrq(0);
        _pic.RaiseIrq(0);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
        Eoi(0);
        Assert.That(_pic.HasPendingInterrupt, Is.False, "no new edge while the line stays high");

        _pic.LowerIrq(0);
        _pic.RaiseIrq(0);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
    }

    [Test]
    public void Ocw3_SelectsIrrOrIsrOnTheCommandPort()
    {
        Remap(mask: 0x0001);
        Pulse(0);
        Pulse(1);
        _ = _pic.AcknowledgeInterrupt();

        _bus.Out(0x20, 1, 0x0A);
        Assert.That(_bus.In(0x20, 1), Is.EqualTo(0x01), "IRR: masked IRQ 0 still requested");
        _bus.Out(0x20, 1, 0x0B);
        Assert.That(_bus.In(0x20, 1), Is.EqualTo(0x02), "ISR: IRQ 1 in service");
    }

    [Test]
    public void AutoEoi_NeverSetsIsr()
    {
        Remap(icw4: 0x03);
        Pulse(1);
        Assert.That(_pic.AcknowledgeInterrupt(), Is.EqualTo(0x21));
        Assert.That(_pic.Isr, Is.Zero);

        Pulse(5);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
    }

    [Test]
    public void Reinitialisation_ClearsPendingAndInService()
    {
        Remap();
        Pulse(1);
        Pulse(3);
        _ = _pic.AcknowledgeInterrupt();
        Remap();
        Assert.That(_pic.Isr, Is.Zero);
        Assert.That(_pic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void PollCommand_AcknowledgesAndReportsTheLevel()
    {
        Remap();
        Pulse(6);
        _bus.Out(0x20, 1, 0x0C);
        Assert.That(_bus.In(0x20, 1), Is.EqualTo(0x86));
        Assert.That(_pic.Isr, Is.EqualTo(0x40));
    }
}

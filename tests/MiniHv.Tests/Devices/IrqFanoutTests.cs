using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;

namespace MiniHv.Tests.Devices;

public class IrqFanoutTests
{
    private IoBus _bus = null!;
    private Pic8259Pair _pic = null!;
    private LocalApic _lapic = null!;
    private IoApic _ioapic = null!;
    private IrqFanout _irqs = null!;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _pic = new Pic8259Pair();
        _pic.Attach(_bus);
        _lapic = new LocalApic(_pic);
        _ioapic = new IoApic(_lapic);
        _irqs = new IrqFanout(_pic, _ioapic);
    }

    private void RemapPic(byte masterMask, byte slaveMask)
    {
        foreach ((ushort port, byte value) in new (ushort, byte)[]
                 {
                     (0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28),
                     (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01), (0x21, masterMask), (0xA1, slaveMask),
                 })
        {
            _bus.Out(port, 1, value);
        }
    }

    [Test]
    public void EveryRaiseAndLower_ReachesEachTarget()
    {
        var first = new RecordingIrqLines();
        var second = new RecordingIrqLines();
        var fanout = new IrqFanout(first, second);

        fanout.RaiseIrq(14);
        Assert.That(first.IsHigh(14) && second.IsHigh(14), Is.True);
        fanout.LowerIrq(14);
        fanout.RaiseIrq(14);
        Assert.That(first.RisingEdges(14), Is.EqualTo(2));
        Assert.That(second.RisingEdges(14), Is.EqualTo(2));
    }

    [Test]
    public void KernelUsingThePic_GetsTheUartThroughLint0_WhileTheIoApicStaysMasked()
    {
        RemapPic(masterMask: 0xEB, slaveMask: 0xFF); // IRQ 2 and 4
        _irqs.RaiseIrq(4);

        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        Assert.That(_ioapic.MessagesDelivered, Is.Zero);
        Assert.That(_lapic.HasPendingInterrupt, Is.False, "one interrupt, not two");
    }

    [Test]
    public void KernelUsingTheIoApic_GetsTheUartOnce_WithThePicMaskedAndLint0Masked()
    {
        // xv6: every PIC line masked, LINT0 masked, pin 4 routed to vector 0x24.
        RemapPic(masterMask: 0xFF, slaveMask: 0xFF);
        _lapic.WriteMmio(LocalApicRegisters.SpuriousVector, 4, LocalApicRegisters.SvrEnable | 0x3F);
        _lapic.WriteMmio(LocalApicRegisters.LvtLint0, 4, LocalApicRegisters.LvtMasked);
        _ioapic.WriteMmio(IoApic.RegisterSelect, 4, 0x10 + 2 * 4);
        _ioapic.WriteMmio(IoApic.RegisterWindow, 4, 0x24);

        _irqs.RaiseIrq(4);

        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        Assert.That(_lapic.IsInService(0x24), Is.True);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
    }
}

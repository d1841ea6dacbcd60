using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Tests.Devices.Apic;

/// <summary>The 8259 pair behind LINT0, as the CPU sees it through the local APIC in virtual wire mode.</summary>
public class LocalApicExtIntTests
{
    private IoBus _bus = null!;
    private Pic8259Pair _pic = null!;
    private LocalApic _apic = null!;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _pic = new Pic8259Pair();
        _pic.Attach(_bus);
        _apic = new LocalApic(_pic);

        // The usual remap: vectors 0x20 and 0x28, everything unmasked.
        foreach ((ushort port, byte value) in new (ushort, byte)[]
                 {
                     (0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28),
                     (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01), (0x21, 0x00), (0xA1, 0x00),
                 })
        {
            _bus.Out(port, 1, value);
        }
    }

    private void Write(uint register, uint value) => _apic.WriteMmio(register, 4, value);

    [Test]
    public void AtReset_PicInterruptsPassThroughLint0()
    {
        Assert.That(_apic.PassesExtInt, Is.True);
        _pic.RaiseIrq(4);

        Assert.That(_apic.HasPendingInterrupt, Is.True);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        Assert.That(_pic.Isr, Is.EqualTo(1 << 4), "the INTA cycle went to the PIC");
        Assert.That(Read(InServiceBase + 0x10), Is.Zero, "ExtINT bypasses the APIC's ISR");
        Assert.That(_apic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void JosSetup_SoftwareEnableWithLint0LeftAlone_StillPassesThePic()
    {
        // JOS lab 4's lapic_init enables the APIC, masks LINT1 and leaves LINT0 as the BIOS set it.
        Write(LocalApicRegisters.SpuriousVector, SvrEnable | 0x27);
        Write(LvtLint1, LvtMasked);
        _pic.RaiseIrq(1);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x21));
    }

    [Test]
    public void MaskedLint0_CutsThePicOff()
    {
        // xv6's lapicinit masks LINT0: the I/O APIC delivers instead.
        Write(LvtLint0, LvtMasked);
        _pic.RaiseIrq(0);
        Assert.That(_pic.HasPendingInterrupt, Is.True);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0xFF), "spurious; the PIC keeps its request");
        Assert.That(_pic.Irr & 1, Is.EqualTo(1));

        Write(LvtLint0, 0x700);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
    }

    [Test]
    public void Lint0InFixedMode_DoesNotPassThePic()
    {
        Write(LvtLint0, 0x30);
        _pic.RaiseIrq(0);
        Assert.That(_apic.PassesExtInt, Is.False);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void SoftwareDisable_MasksLint0AndSoThePic()
    {
        Write(LocalApicRegisters.SpuriousVector, 0xFF);
        _pic.RaiseIrq(0);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(_apic.ReadMmio(LvtLint0, 4), Is.EqualTo(LvtMasked | 0x700));
    }

    [Test]
    public void ApicRequests_AreServedBeforeThePics()
    {
        _pic.RaiseIrq(0);
        _apic.AcceptInterrupt(0x40);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x40));
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
    }

    [Test]
    public void ApicTimerAndPicDevices_ShareTheCpu_AsInJosLab4()
    {
        // The LAPIC timer on vector 0x20 with the PIT's IRQ 0 masked at the PIC; the UART through the PIC.
        _bus.Out(0x21, 1, 0xEB); // IRQ 2 and 4 unmasked only
        Write(LocalApicRegisters.SpuriousVector, SvrEnable | 0x27);
        Write(TimerDivideConfiguration, 0xB);
        Write(LvtTimer, LvtTimerPeriodic | 0x20);
        Write(TimerInitialCount, 10_000_000);

        _pic.RaiseIrq(0);
        _pic.RaiseIrq(4);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        _bus.Out(0x20, 1, 0x20);

        _apic.Advance(_apic.InstructionsUntilNextEvent());
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x20));
        Assert.That(_apic.IsInService(0x20), Is.True, "the timer's vector is the APIC's own");
        Write(EndOfInterrupt, 0);
        Assert.That(_apic.HasPendingInterrupt, Is.False, "IRQ 0 stays masked at the PIC");
    }

    private uint Read(uint register) => _apic.ReadMmio(register, 4);
}

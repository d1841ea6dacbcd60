using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;

namespace MiniHv.Tests.Devices.Apic;

public class IoApicTests
{
    private const uint Edge = 0;
    private const uint Level = (uint)IoApic.LevelTriggered;
    private const uint Masked = (uint)IoApic.Masked;

    private LocalApic _lapic = null!;
    private IoApic _ioapic = null!;

    [SetUp]
    public void SetUp()
    {
        _lapic = new LocalApic();
        _ioapic = new IoApic(_lapic);
    }

    private uint ReadRegister(uint index)
    {
        _ioapic.WriteMmio(IoApic.RegisterSelect, 4, index);
        return _ioapic.ReadMmio(IoApic.RegisterWindow, 4);
    }

    private void WriteRegister(uint index, uint value)
    {
        _ioapic.WriteMmio(IoApic.RegisterSelect, 4, index);
        _ioapic.WriteMmio(IoApic.RegisterWindow, 4, value);
    }

    /// <summary>xv6's ioapicenable: pin's vector, edge, active high, unmasked, physical destination <paramref name="apicId"/>.</summary>
    private void Route(int pin, uint low, byte apicId = 0)
    {
        WriteRegister(IoApic.RedirectionTableBase + 2 * (uint)pin, low);
        WriteRegister(IoApic.RedirectionTableBase + 2 * (uint)pin + 1, (uint)apicId << 24);
    }

    private void Eoi() => _lapic.WriteMmio(LocalApicRegisters.EndOfInterrupt, 4, 0);

    [Test]
    public void IdVersionAndArbitration_ReadAsTheBiosLeftThem()
    {
        Assert.That(ReadRegister(IoApic.IdRegister), Is.EqualTo(0x0100_0000));
        Assert.That(ReadRegister(IoApic.VersionRegister), Is.EqualTo(0x0017_0011), "version 0x11, max redirection entry 23");
        Assert.That(ReadRegister(IoApic.ArbitrationRegister), Is.EqualTo(0x0100_0000));

        WriteRegister(IoApic.IdRegister, 0xFFFF_FFFF);
        Assert.That(ReadRegister(IoApic.IdRegister), Is.EqualTo(0x0F00_0000));
        Assert.That(ReadRegister(IoApic.ArbitrationRegister), Is.EqualTo(0x0F00_0000));
        WriteRegister(IoApic.VersionRegister, 0);
        Assert.That(ReadRegister(IoApic.VersionRegister), Is.EqualTo(0x0017_0011));
    }

    [Test]
    public void RegisterSelect_ReadsBack()
    {
        _ioapic.WriteMmio(IoApic.RegisterSelect, 4, 0x1234_5617);
        Assert.That(_ioapic.ReadMmio(IoApic.RegisterSelect, 4), Is.EqualTo(0x17));
    }

    [Test]
    public void Reset_MasksEveryEntry()
    {
        for (uint pin = 0; pin < IoApic.PinCount; pin++)
        {
            Assert.That(ReadRegister(0x10 + 2 * pin), Is.EqualTo(0x0001_0000), $"pin {pin} low");
            Assert.That(ReadRegister(0x11 + 2 * pin), Is.Zero, $"pin {pin} high");
        }
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void RedirectionEntry_ReadsBackWhatWasWritten_ButNotTheReadOnlyBits()
    {
        WriteRegister(0x10 + 2 * 5, 0xFFFF_FFFF);
        WriteRegister(0x11 + 2 * 5, 0xFFFF_FFFF);
        Assert.That(ReadRegister(0x10 + 2 * 5), Is.EqualTo(0x0001_AFFF), "delivery status, remote IRR and bits 17-31 read 0");
        Assert.That(ReadRegister(0x11 + 2 * 5), Is.EqualTo(0xFF00_0000));
        Assert.That(_ioapic.RedirectionEntry(5), Is.EqualTo(0xFF00_0000_0001_AFFFUL));
    }

    [TestCase(4, 0x24, TestName = "UartIrq4_ReachesTheCpuOnPin4")]
    [TestCase(14, 0x2E, TestName = "IdeIrq14_ReachesTheCpuOnPin14")]
    [TestCase(1, 0x21, TestName = "KeyboardIrq1_ReachesTheCpuOnPin1")]
    public void IsaIrq_IsRoutedToItsPinsVector(int irq, int vector)
    {
        Route(irq, 0x20u + (uint)irq);
        _ioapic.RaiseIrq(irq);

        Assert.That(_ioapic.IsAsserted(irq), Is.True);
        Assert.That(_lapic.HasPendingInterrupt, Is.True);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(vector));
        Assert.That(_lapic.IsLevelTriggered(vector), Is.False);
    }

    [Test]
    public void PitIrq0_ArrivesOnPin2()
    {
        Route(0, 0x30);
        _ioapic.RaiseIrq(0);
        Assert.That(_lapic.HasPendingInterrupt, Is.False, "pin 0 is not the PIT's");

        Route(2, 0x22);
        _ioapic.LowerIrq(0);
        _ioapic.RaiseIrq(0);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x22));
    }

    [Test]
    public void UartDevice_InterruptsThroughTheIoApic()
    {
        var uart = new Uart16550(_ioapic, _ => { });
        var bus = new IoBus();
        uart.Attach(bus);
        Route(4, 0x24);
        bus.Out(0x3F9, 1, 0x01); // receive interrupt on, as xv6's uartinit leaves it

        uart.EnqueueInput("x"u8);
        uart.Poll();
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        Assert.That(bus.In(0x3F8, 1), Is.EqualTo('x'));
        Assert.That(_ioapic.IsAsserted(4), Is.False, "reading RBR drops the line");
        Eoi();
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void EdgeEntry_SendsOnlyOnTheRisingEdge()
    {
        Route(4, 0x24);
        _ioapic.RaiseIrq(4);
        _ = _lapic.AcknowledgeInterrupt();
        Eoi();

        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.HasPendingInterrupt, Is.False, "still high: no new edge");

        _ioapic.LowerIrq(4);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
        Assert.That(_ioapic.MessagesDelivered, Is.EqualTo(2));
    }

    [Test]
    public void EdgeOnAMaskedEntry_IsLost()
    {
        Route(1, Masked | 0x21);
        _ioapic.RaiseIrq(1);
        _ioapic.LowerIrq(1);
        Route(1, 0x21);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void LevelEntry_HoldsRemoteIrrUntilEoi_AndSendsAgainWhileTheLineStaysHigh()
    {
        Route(9, Level | 0x29);
        _ioapic.RaiseIrq(9);
        Assert.That(ReadRegister(0x10 + 2 * 9) & IoApic.RemoteIrr, Is.EqualTo(IoApic.RemoteIrr));
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x29));
        Assert.That(_lapic.IsLevelTriggered(0x29), Is.True);

        _ioapic.RaiseIrq(9);
        Assert.That(_ioapic.MessagesDelivered, Is.EqualTo(1), "remote IRR holds the line off");

        Eoi(); // broadcast to the I/O APIC because the TMR bit is set
        Assert.That(ReadRegister(0x10 + 2 * 9) & IoApic.RemoteIrr, Is.EqualTo(IoApic.RemoteIrr), "sent again: the line is still high");
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x29));

        _ioapic.LowerIrq(9);
        Eoi();
        Assert.That(ReadRegister(0x10 + 2 * 9) & IoApic.RemoteIrr, Is.Zero);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
        Assert.That(_ioapic.MessagesDelivered, Is.EqualTo(2));
    }

    [Test]
    public void UnmaskingALevelEntryWhoseLineIsHigh_SendsAtOnce()
    {
        Route(11, Masked | Level | 0x2B);
        _ioapic.RaiseIrq(11);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);

        Route(11, Level | 0x2B);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x2B));
    }

    [Test]
    public void SwitchingToEdge_ClearsRemoteIrr()
    {
        Route(10, Level | 0x2A);
        _ioapic.RaiseIrq(10);
        Route(10, Edge | 0x2A);
        Assert.That(ReadRegister(0x10 + 2 * 10) & IoApic.RemoteIrr, Is.Zero);
    }

    [Test]
    public void DestinationThatIsNotThisCpu_IsNotDelivered()
    {
        Route(4, 0x24, apicId: 1);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);

        Route(4, 0x24, apicId: 0xFF);
        _ioapic.LowerIrq(4);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24), "0xFF is every CPU");
    }

    [Test]
    public void LogicalDestination_IsMatchedAgainstTheLocalApicsLdr()
    {
        _lapic.WriteMmio(LocalApicRegisters.LogicalDestination, 4, 0x0100_0000);
        Route(4, (uint)IoApic.LogicalDestination | 0x24, apicId: 0x02);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);

        Route(4, (uint)IoApic.LogicalDestination | 0x24, apicId: 0x01);
        _ioapic.LowerIrq(4);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
    }

    [TestCase(ApicDeliveryMode.Nmi)]
    [TestCase(ApicDeliveryMode.Smi)]
    [TestCase(ApicDeliveryMode.Init)]
    [TestCase(ApicDeliveryMode.ExtInt)]
    public void NonFixedDeliveryModes_AreNotDelivered(ApicDeliveryMode mode)
    {
        Route(4, (uint)mode << 8 | 0x24);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
        Assert.That(_ioapic.MessagesDelivered, Is.Zero);
    }

    [Test]
    public void LowestPriority_ReachesTheOneCpu()
    {
        Route(4, (uint)ApicDeliveryMode.LowestPriority << 8 | 0x24);
        _ioapic.RaiseIrq(4);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x24));
    }

    [Test]
    public void Pins16To23_AreReachableDirectly()
    {
        Route(19, Level | 0x33);
        _ioapic.SetPin(19, true);
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(0x33));
    }

    [Test]
    public void NarrowReadsReturnBytes_AndNarrowWritesAreIgnored()
    {
        _ioapic.WriteMmio(IoApic.RegisterSelect, 4, IoApic.VersionRegister);
        Assert.That(_ioapic.ReadMmio(IoApic.RegisterWindow + 2, 1), Is.EqualTo(0x17));
        Assert.That(_ioapic.ReadMmio(IoApic.RegisterWindow, 2), Is.EqualTo(0x0011));

        _ioapic.WriteMmio(IoApic.RegisterSelect, 1, IoApic.IdRegister);
        Assert.That(_ioapic.ReadMmio(IoApic.RegisterSelect, 4), Is.EqualTo(IoApic.VersionRegister));
        Assert.That(_ioapic.ReadMmio(0x20, 4), Is.Zero);
    }

    [Test]
    public void EveryOffsetAndSize_NeverThrows()
    {
        var random = new Random(99);
        Assert.DoesNotThrow(() =>
        {
            for (uint offset = 0; offset < IoApic.WindowSize; offset++)
            {
                foreach (int size in new[] { 1, 2, 4 })
                {
                    _ = _ioapic.ReadMmio(offset, size);
                    _ioapic.WriteMmio(offset, size, (uint)random.Next());
                }
            }
            for (uint index = 0; index < 0x100; index++)
            {
                WriteRegister(index, (uint)random.Next() | (uint)random.Next(2) << 31);
                _ = ReadRegister(index);
            }
            for (int i = 0; i < 1000; i++)
            {
                int irq = random.Next(16);
                if (random.Next(2) == 0)
                    _ioapic.RaiseIrq(irq);
                else
                    _ioapic.LowerIrq(irq);
                if (_lapic.HasPendingInterrupt)
                    _ = _lapic.AcknowledgeInterrupt();
                Eoi();
            }
        });
    }
}

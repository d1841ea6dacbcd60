using System.Buffers.Binary;
using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;
using MiniHv.Hv.Devices.Ide;

namespace MiniHv.Tests.Devices;

/// <summary>The APIC-era devices wired as the machine will wire them, driven the way xv6 drives them.</summary>
public class ApicScenarioTests
{
    private const uint Lapic = LocalApic.DefaultBase;
    private const uint Ioapic = IoApic.DefaultBase;
    private const int TIrq0 = 32;

    private IoBus _io = null!;
    private MmioBus _mmio = null!;
    private Pic8259Pair _pic = null!;
    private LocalApic _lapic = null!;
    private IoApic _ioapic = null!;
    private IrqFanout _irqs = null!;
    private byte[] _disk = null!;
    private IdeController _ide = null!;

    [SetUp]
    public void SetUp()
    {
        _io = new IoBus();
        _mmio = new MmioBus();
        _pic = new Pic8259Pair();
        _lapic = new LocalApic(_pic);
        _ioapic = new IoApic(_lapic);
        _irqs = new IrqFanout(_pic, _ioapic);
        _disk = new byte[64 * 512];
        _ide = new IdeController(_irqs, IdeDisk.FromBytes(_disk));
        _pic.Attach(_io);
        _ide.Attach(_io);
        _mmio.Register(_lapic);
        _mmio.Register(_ioapic);
    }

    private void LapicWrite(uint register, uint value) => _mmio.Write(Lapic + register, 4, value);

    private uint LapicRead(uint register) => _mmio.Read(Lapic + register, 4);

    private uint IoapicRead(uint index)
    {
        _mmio.Write(Ioapic, 4, index);
        return _mmio.Read(Ioapic + 0x10, 4);
    }

    private void IoapicWrite(uint index, uint value)
    {
        _mmio.Write(Ioapic, 4, index);
        _mmio.Write(Ioapic + 0x10, 4, value);
    }

    /// <summary>xv6's picinit, lapicinit and ioapicinit, then ioapicenable(IRQ_IDE, 0).</summary>
    private void Xv6Init()
    {
        _io.Out(0x21, 1, 0xFF);
        _io.Out(0xA1, 1, 0xFF);

        LapicWrite(LocalApicRegisters.SpuriousVector, LocalApicRegisters.SvrEnable | TIrq0 + 31);
        LapicWrite(LocalApicRegisters.TimerDivideConfiguration, 0xB);
        LapicWrite(LocalApicRegisters.LvtTimer, LocalApicRegisters.LvtTimerPeriodic | TIrq0);
        LapicWrite(LocalApicRegisters.TimerInitialCount, 10_000_000);
        LapicWrite(LocalApicRegisters.LvtLint0, LocalApicRegisters.LvtMasked);
        LapicWrite(LocalApicRegisters.LvtLint1, LocalApicRegisters.LvtMasked);
        if ((LapicRead(LocalApicRegisters.Version) >> 16 & 0xFF) >= 4)
            LapicWrite(LocalApicRegisters.LvtPerformance, LocalApicRegisters.LvtMasked);
        LapicWrite(LocalApicRegisters.LvtError, TIrq0 + 19);
        LapicWrite(LocalApicRegisters.ErrorStatus, 0);
        LapicWrite(LocalApicRegisters.ErrorStatus, 0);
        LapicWrite(LocalApicRegisters.EndOfInterrupt, 0);
        LapicWrite(LocalApicRegisters.InterruptCommandHigh, 0);
        LapicWrite(LocalApicRegisters.InterruptCommandLow, 0x0008_0000 | 0x500 | 0x8000);
        for (int i = 0; (LapicRead(LocalApicRegisters.InterruptCommandLow) & LocalApicRegisters.DeliveryPending) != 0; i++)
            Assert.That(i, Is.LessThan(1000), "the INIT de-assert never completed");
        LapicWrite(LocalApicRegisters.TaskPriority, 0);

        Assert.That(IoapicRead(0) >> 24, Is.EqualTo(1), "the ID the MP table gives");
        uint maxEntry = IoapicRead(1) >> 16 & 0xFF;
        Assert.That(maxEntry, Is.EqualTo(23));
        for (uint i = 0; i <= maxEntry; i++)
        {
            IoapicWrite(0x10 + 2 * i, 0x0001_0000 | (TIrq0 + i));
            IoapicWrite(0x11 + 2 * i, 0);
        }

        IoapicWrite(0x10 + 2 * 14, TIrq0 + 14);
        IoapicWrite(0x11 + 2 * 14, 0);
    }

    /// <summary>xv6's idewait: spin until ready and not busy; false on an error.</summary>
    private bool IdeWait(bool checkError)
    {
        uint status;
        int spins = 0;
        while (((status = _io.In(0x1F7, 1)) & 0xC0) != 0x40)
            Assert.That(++spins, Is.LessThan(1000), "the drive never became ready");
        return !checkError || (status & 0x21) == 0;
    }

    /// <summary>xv6's idestart for one 512-byte block.</summary>
    private void IdeStart(int sector, byte[]? dirtyData)
    {
        IdeWait(false);
        _io.Out(0x3F6, 1, 0);
        _io.Out(0x1F2, 1, 1);
        _io.Out(0x1F3, 1, (uint)(sector & 0xFF));
        _io.Out(0x1F4, 1, (uint)(sector >> 8 & 0xFF));
        _io.Out(0x1F5, 1, (uint)(sector >> 16 & 0xFF));
        _io.Out(0x1F6, 1, (uint)(0xE0 | (sector >> 24 & 0x0F)));
        if (dirtyData is not null)
        {
            _io.Out(0x1F7, 1, 0x30);
            for (int i = 0; i < 128; i++)
                _io.Out(0x1F0, 4, BinaryPrimitives.ReadUInt32LittleEndian(dirtyData.AsSpan(4 * i)));
        }
        else
        {
            _io.Out(0x1F7, 1, 0x20);
        }
    }

    /// <summary>The CPU taking the interrupt xv6 waits for in iderw's sleep.</summary>
    private void TakeIdeInterrupt()
    {
        Assert.That(_lapic.HasPendingInterrupt, Is.True, "IRQ 14 should reach the CPU");
        Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(TIrq0 + 14));
    }

    [Test]
    public void Xv6IdeDriver_WritesAndReadsBlocks_WithIrq14ThroughTheIoApic()
    {
        Xv6Init();
        IdeWait(false);
        _io.Out(0x1F6, 1, 0xE0 | 1 << 4);
        bool haveDisk1 = false;
        for (int i = 0; i < 1000 && !haveDisk1; i++)
            haveDisk1 = _io.In(0x1F7, 1) != 0;
        _io.Out(0x1F6, 1, 0xE0);
        Assert.That(haveDisk1, Is.False);

        var data = new byte[512];
        new Random(11).NextBytes(data);
        for (int block = 3; block <= 4; block++)
        {
            IdeStart(block, data);
            TakeIdeInterrupt(); // ideintr: a write needs no data, and xv6 does not read the status
            LapicWrite(LocalApicRegisters.EndOfInterrupt, 0);
        }
        Assert.That(_disk.AsSpan(3 * 512, 512).SequenceEqual(data), Is.True);
        Assert.That(_disk.AsSpan(4 * 512, 512).SequenceEqual(data), Is.True);

        IdeStart(4, null);
        TakeIdeInterrupt();
        Assert.That(IdeWait(true), Is.True);
        var back = new byte[512];
        for (int i = 0; i < 128; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(back.AsSpan(4 * i), _io.In(0x1F0, 4));
        LapicWrite(LocalApicRegisters.EndOfInterrupt, 0);

        Assert.That(back, Is.EqualTo(data));
        Assert.That(_lapic.HasPendingInterrupt, Is.False);
        Assert.That(_pic.HasPendingInterrupt, Is.False, "the PIC saw IRQ 14 too, but xv6 masked it");
        Assert.That(_ioapic.MessagesDelivered, Is.EqualTo(3));
    }

    [Test]
    public void Xv6Timer_TicksThroughTheLocalApicAt100Hz()
    {
        Xv6Init();
        var ticks = new List<long>();
        while (ticks.Count < 3)
        {
            _lapic.Advance(_lapic.InstructionsUntilNextEvent());
            Assert.That(_lapic.AcknowledgeInterrupt(), Is.EqualTo(TIrq0));
            LapicWrite(LocalApicRegisters.EndOfInterrupt, 0);
            ticks.Add(_lapic.Instructions);
        }
        Assert.That(ticks, Is.EqualTo(new long[] { 1_000_000, 2_000_000, 3_000_000 }));
        LapicWrite(LocalApicRegisters.ErrorStatus, 0);
        Assert.That(LapicRead(LocalApicRegisters.ErrorStatus), Is.Zero, "xv6's setup makes no APIC errors");
    }
}

using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class MmioBusTests
{
    /// <summary>A window that records every access and reads back (offset's low byte) in each byte.</summary>
    private sealed class Probe(uint mmioBase, uint mmioSize) : IMmioDevice
    {
        public readonly List<string> Accesses = [];

        public uint MmioBase { get; } = mmioBase;

        public uint MmioSize { get; } = mmioSize;

        public uint ReadMmio(uint offset, int size)
        {
            Accesses.Add($"r{size} +{offset:X}");
            return (offset & 0xFF) * 0x01010101u;
        }

        public void WriteMmio(uint offset, int size, uint value) => Accesses.Add($"w{size} +{offset:X}={value:X}");
    }

    [TestCase(1, 0xFFu)]
    [TestCase(2, 0xFFFFu)]
    [TestCase(4, 0xFFFF_FFFFu)]
    public void UnclaimedAddress_ReadsAllOnes(int size, uint expected)
    {
        var bus = new MmioBus();
        bus.Register(new Probe(0xFEE0_0000, 0x1000));
        Assert.That(bus.Read(0xFEC0_0000, size), Is.EqualTo(expected));
    }

    [Test]
    public void AccessInsideAWindow_ReachesTheDeviceWholeAtItsOffset()
    {
        var bus = new MmioBus();
        var lapic = new Probe(0xFEE0_0000, 0x1000);
        bus.Register(lapic);

        bus.Write(0xFEE0_00B0, 4, 0x1234_5678);
        uint value = bus.Read(0xFEE0_0020, 4);

        Assert.That(lapic.Accesses, Is.EqualTo(new[] { "w4 +B0=12345678", "r4 +20" }));
        Assert.That(value, Is.EqualTo(0x2020_2020));
    }

    [Test]
    public void TwoWindows_EachGetsOnlyItsOwnAccesses()
    {
        var bus = new MmioBus();
        var lapic = new Probe(0xFEE0_0000, 0x1000);
        var ioapic = new Probe(0xFEC0_0000, 0x1000);
        bus.Register(lapic);
        bus.Register(ioapic);

        bus.Write(0xFEC0_0010, 4, 7);
        bus.Write(0xFEE0_0300, 4, 9);

        Assert.That(ioapic.Accesses, Is.EqualTo(new[] { "w4 +10=7" }));
        Assert.That(lapic.Accesses, Is.EqualTo(new[] { "w4 +300=9" }));
        Assert.That(bus.Devices, Is.EqualTo(new IMmioDevice[] { ioapic, lapic }), "sorted by base address");
    }

    [Test]
    public void AccessStraddlingAWindowsEnd_IsSplitIntoBytes_WithOnesForTheUnclaimedBytes()
    {
        var bus = new MmioBus();
        var probe = new Probe(0x1000, 0x10);
        bus.Register(probe);

        uint value = bus.Read(0x100E, 4);

        Assert.That(probe.Accesses, Is.EqualTo(new[] { "r1 +E", "r1 +F" }));
        Assert.That(value, Is.EqualTo(0xFFFF_0F0E));
    }

    [Test]
    public void WriteStraddlingAWindowsStart_DeliversOnlyTheClaimedBytes()
    {
        var bus = new MmioBus();
        var probe = new Probe(0x1000, 0x10);
        bus.Register(probe);

        bus.Write(0x0FFE, 4, 0xAABB_CCDD);

        Assert.That(probe.Accesses, Is.EqualTo(new[] { "w1 +0=BB", "w1 +1=AA" }));
    }

    [Test]
    public void AccessAtTheTopOfTheAddressSpace_WrapsWithoutThrowing()
    {
        var bus = new MmioBus();
        var probe = new Probe(0x0, 0x10);
        bus.Register(probe);

        uint value = bus.Read(0xFFFF_FFFE, 4);

        Assert.That(value, Is.EqualTo(0x0100_FFFFu));
        Assert.That(probe.Accesses, Is.EqualTo(new[] { "r1 +0", "r1 +1" }));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(-1)]
    [TestCase(int.MaxValue)]
    public void OddSizes_NeverThrow(int size)
    {
        var bus = new MmioBus();
        bus.Register(new Probe(0xFEE0_0000, 0x1000));
        Assert.DoesNotThrow(() =>
        {
            _ = bus.Read(0xFEE0_0000, size);
            bus.Write(0xFEE0_0000, size, 0xFFFF_FFFF);
        });
    }

    [Test]
    public void UnclaimedPage_IsReportedOnceEvenWhenTouchedAgain()
    {
        var reports = new List<string>();
        var bus = new MmioBus(reports.Add);
        bus.Write(0xFED0_0000, 4, 1);
        bus.Write(0xFED0_0004, 4, 2);
        _ = bus.Read(0xFED0_0FFC, 4);
        _ = bus.Read(0xFED0_1000, 1);

        Assert.That(reports, Has.Count.EqualTo(2));
        Assert.That(reports[0], Does.Contain("0xFED00000").And.Contain("write"));
        Assert.That(reports[1], Does.Contain("0xFED01000").And.Contain("read"));
        Assert.That(bus.UnclaimedPagesTouched, Is.EqualTo(2));
    }

    [Test]
    public void OverlappingWindows_AreRefused()
    {
        var bus = new MmioBus();
        bus.Register(new Probe(0xFEE0_0000, 0x1000));
        Assert.Throws<InvalidOperationException>(() => bus.Register(new Probe(0xFEE0_0800, 0x1000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Register(new Probe(0xFFFF_F000, 0x2000)));
    }

    [Test]
    public void IsClaimed_CoversExactlyTheWindow()
    {
        var bus = new MmioBus();
        bus.Register(new Probe(0xFEC0_0000, 0x1000));
        Assert.That(bus.IsClaimed(0xFEBF_FFFF), Is.False);
        Assert.That(bus.IsClaimed(0xFEC0_0000), Is.True);
        Assert.That(bus.IsClaimed(0xFEC0_0FFF), Is.True);
        Assert.That(bus.IsClaimed(0xFEC0_1000), Is.False);
    }
}

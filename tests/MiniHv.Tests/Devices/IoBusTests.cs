using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class IoBusTests
{
    /// <summary>Records every access it receives.</summary>
    private sealed class Probe : IPortDevice
    {
        public readonly List<string> Accesses = [];

        public uint ReadPort(ushort port, int size)
        {
            Accesses.Add($"in{size} {port:X}");
            return (uint)(port & 0xFF) * 0x01010101u;
        }

        public void WritePort(ushort port, int size, uint value) => Accesses.Add($"out{size} {port:X}={value:X}");
    }

    [TestCase(1, 0xFFu)]
    [TestCase(2, 0xFFFFu)]
    [TestCase(4, 0xFFFF_FFFFu)]
    public void UnclaimedPort_ReadsAllOnes(int size, uint expected)
    {
        var bus = new IoBus();
        Assert.That(bus.In(0x80, size), Is.EqualTo(expected));
    }

    [Test]
    public void UnclaimedPort_IsReportedOnceEvenWhenTouchedAgain()
    {
        var reports = new List<string>();
        var bus = new IoBus(reports.Add);
        bus.Out(0x80, 1, 0x12);
        bus.Out(0x80, 1, 0x34);
        _ = bus.In(0x80, 1);
        _ = bus.In(0x81, 1);

        Assert.That(reports, Has.Count.EqualTo(2));
        Assert.That(reports[0], Does.Contain("0x0080").And.Contain("write"));
        Assert.That(reports[1], Does.Contain("0x0081").And.Contain("read"));
        Assert.That(bus.UnclaimedPortsTouched, Is.EqualTo(2));
    }

    [Test]
    public void WideAccessToByteDevice_IsSplitIntoByteAccessesInOrder()
    {
        var bus = new IoBus();
        var probe = new Probe();
        bus.Register(0x3D4, 2, probe);

        bus.Out(0x3D4, 2, 0x120E);
        uint value = bus.In(0x3D4, 2);

        Assert.That(probe.Accesses, Is.EqualTo(new[] { "out1 3D4=E", "out1 3D5=12", "in1 3D4", "in1 3D5" }));
        Assert.That(value, Is.EqualTo(0xD5D4));
    }

    [Test]
    public void WordDevice_GetsDwordAccessAsTwoWords()
    {
        var bus = new IoBus();
        var probe = new Probe();
        bus.Register(0x1F0, 4, probe, PortWidths.Byte | PortWidths.Word);

        bus.Out(0x1F0, 4, 0xAABBCCDD);

        Assert.That(probe.Accesses, Is.EqualTo(new[] { "out2 1F0=CCDD", "out2 1F2=AABB" }));
    }

    [Test]
    public void DwordDevice_GetsWholeAccess()
    {
        var bus = new IoBus();
        var probe = new Probe();
        bus.Register(0xF4, 4, probe, PortWidths.All);

        bus.Out(0xF4, 4, 0x12345678);

        Assert.That(probe.Accesses, Is.EqualTo(new[] { "out4 F4=12345678" }));
    }

    [Test]
    public void WordAccessStraddlingClaimedAndUnclaimedPorts_ReadsOnesForTheUnclaimedByte()
    {
        var bus = new IoBus();
        var probe = new Probe();
        bus.Register(0x60, 1, probe);

        Assert.That(bus.In(0x60, 2), Is.EqualTo(0xFF60));
        Assert.That(probe.Accesses, Is.EqualTo(new[] { "in1 60" }));
    }

    [Test]
    public void ClaimingAClaimedPort_Throws()
    {
        var bus = new IoBus();
        bus.Register(0x40, 4, new Probe());
        Assert.Throws<InvalidOperationException>(() => bus.Register(0x43, 1, new Probe()));
    }
}

using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class DebugExitTests
{
    [TestCase(0u, 1)]
    [TestCase(1u, 3)]
    [TestCase(0x10u, 0x21)]
    public void ByteWrite_RequestsExitWithQemuStatus(uint value, int status)
    {
        var bus = new IoBus();
        int? seen = null;
        var exit = new DebugExit(s => seen = s);
        exit.Attach(bus);

        Assert.That(exit.ExitStatus, Is.Null);
        bus.Out(0xF4, 1, value);

        Assert.That(exit.ExitStatus, Is.EqualTo(status));
        Assert.That(seen, Is.EqualTo(status));
    }

    [Test]
    public void WideWrite_UsesTheWholeValue()
    {
        var bus = new IoBus();
        var exit = new DebugExit();
        exit.Attach(bus);
        bus.Out(0xF4, 4, 0x1234);
        Assert.That(exit.ExitStatus, Is.EqualTo(0x2469));
    }

    [Test]
    public void FirstWriteWins()
    {
        var bus = new IoBus();
        int calls = 0;
        var exit = new DebugExit(_ => calls++);
        exit.Attach(bus);
        bus.Out(0xF4, 1, 2);
        bus.Out(0xF4, 1, 3);
        Assert.That(exit.ExitStatus, Is.EqualTo(5));
        Assert.That(calls, Is.EqualTo(1));
    }
}

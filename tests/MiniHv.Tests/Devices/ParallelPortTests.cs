using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class ParallelPortTests
{
    private IoBus _bus = null!;
    private List<byte> _printed = null!;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _printed = [];
        new ParallelPort(_printed.Add).Attach(_bus);
    }

    [Test]
    public void Status_ReadsNotBusyAndReady()
    {
        uint status = _bus.In(0x379, 1);
        Assert.That(status & 0x80, Is.EqualTo(0x80), "not busy");
        Assert.That(status & 0x08, Is.EqualTo(0x08), "no error");
        Assert.That(status & 0x20, Is.Zero, "paper present");
        Assert.That(status, Is.EqualTo(0xDF));
    }

    [Test]
    public void JosLptPutc_PrintsEachStrobedByte()
    {
        foreach (char c in "hi\n")
        {
            // JOS's lpt_putc: wait for not-busy, put the byte, pulse the strobe.
            Assert.That(_bus.In(0x379, 1) & 0x80, Is.EqualTo(0x80), "the printer is never busy");
            _bus.Out(0x378, 1, c);
            _bus.Out(0x37A, 1, 0x08 | 0x04 | 0x01);
            _bus.Out(0x37A, 1, 0x08);
        }
        Assert.That(_printed, Is.EqualTo("hi\n"u8.ToArray()));
    }

    [Test]
    public void DataAndControl_ReadBack()
    {
        _bus.Out(0x378, 1, 0x5A);
        _bus.Out(0x37A, 1, 0x2C);
        Assert.That(_bus.In(0x378, 1), Is.EqualTo(0x5A));
        Assert.That(_bus.In(0x37A, 1), Is.EqualTo(0xEC), "bits 7-6 read as 1");
        Assert.That(_printed, Is.Empty, "no strobe, nothing printed");
    }
}

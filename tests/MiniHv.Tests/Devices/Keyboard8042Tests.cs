using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class Keyboard8042Tests
{
    private IoBus _bus = null!;
    private Keyboard8042 _kbc = null!;
    private SystemControlPortA _port92 = null!;
    private int _resets;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _resets = 0;
        _kbc = new Keyboard8042(resetRequested: () => _resets++);
        _port92 = new SystemControlPortA(_kbc.A20, () => _resets++);
        _kbc.Attach(_bus);
        _port92.Attach(_bus);
    }

    private byte Status() => (byte)_bus.In(0x64, 1);

    private void WaitInputEmpty()
    {
        Assert.That(Status() & 0x02, Is.Zero, "input buffer empty");
    }

    [Test]
    public void Idle_StatusHasNoDataAndAnEmptyInputBuffer()
    {
        byte status = Status();
        Assert.That(status & 0x01, Is.Zero, "no data for xv6's kbdgetc");
        Assert.That(status & 0x02, Is.Zero);
        Assert.That(status & 0x04, Is.EqualTo(0x04), "system flag: POST passed");
    }

    [Test]
    public void Xv6BootloaderSeta20_OpensTheGateThroughTheOutputPort()
    {
        _bus.Out(0x64, 1, 0xDD); // close it first, so the test sees a change
        Assert.That(_kbc.A20Enabled, Is.False);

        WaitInputEmpty();
        _bus.Out(0x64, 1, 0xD1);
        WaitInputEmpty();
        _bus.Out(0x60, 1, 0xDF);

        Assert.That(_kbc.A20Enabled, Is.True);
        Assert.That(_resets, Is.Zero);
    }

    [Test]
    public void OutputPort_ReadsBackTheA20Bit()
    {
        _bus.Out(0x64, 1, 0xD1);
        _bus.Out(0x60, 1, 0xDD);
        Assert.That(_kbc.A20Enabled, Is.False);

        _bus.Out(0x64, 1, 0xD0);
        Assert.That(Status() & 0x01, Is.EqualTo(0x01), "the answer waits in the output buffer");
        Assert.That(_bus.In(0x60, 1) & 0x03, Is.EqualTo(0x01), "reset line high, A20 low");
        Assert.That(Status() & 0x01, Is.Zero);
    }

    [Test]
    public void PulseResetCommand_ReportsAResetThroughTheCallback()
    {
        _bus.Out(0x64, 1, 0xFE);
        Assert.That(_resets, Is.EqualTo(1));
        Assert.That(_kbc.ResetRequests, Is.EqualTo(1));

        _bus.Out(0x64, 1, 0xFF); // pulses nothing
        Assert.That(_resets, Is.EqualTo(1));
    }

    [Test]
    public void OutputPortWithResetBitClear_ResetsTheCpu()
    {
        _bus.Out(0x64, 1, 0xD1);
        _bus.Out(0x60, 1, 0xDE);
        Assert.That(_resets, Is.EqualTo(1));
    }

    [Test]
    public void SelfTestsAndCommandByte_Answer()
    {
        _bus.Out(0x64, 1, 0xAA);
        Assert.That(_bus.In(0x60, 1), Is.EqualTo(0x55));
        _bus.Out(0x64, 1, 0xAB);
        Assert.That(_bus.In(0x60, 1), Is.Zero);

        _bus.Out(0x64, 1, 0x20);
        Assert.That(_bus.In(0x60, 1), Is.EqualTo(0x45));
        _bus.Out(0x64, 1, 0x60);
        _bus.Out(0x60, 1, 0x61);
        Assert.That(_kbc.CommandByte, Is.EqualTo(0x61));
        Assert.That(Status() & 0x04, Is.Zero, "the system flag follows the command byte");

        _bus.Out(0x64, 1, 0xAD);
        Assert.That(_kbc.CommandByte & 0x10, Is.EqualTo(0x10));
        _bus.Out(0x64, 1, 0xAE);
        Assert.That(_kbc.CommandByte & 0x10, Is.Zero);
    }

    [Test]
    public void KeyboardCommands_AreAcknowledged()
    {
        _bus.Out(0x60, 1, 0xFF);
        Assert.That(_bus.In(0x60, 1), Is.EqualTo(0xFA));
        Assert.That(_bus.In(0x60, 1), Is.EqualTo(0xAA));
        _bus.Out(0x60, 1, 0xF4);
        Assert.That(_bus.In(0x60, 1), Is.EqualTo(0xFA));
        Assert.That(Status() & 0x01, Is.Zero);
    }

    [Test]
    public void AGuestThatNeverReads_CannotGrowTheOutputBuffer()
    {
        for (int i = 0; i < 1_000_000; i++)
            _bus.Out(0x60, 1, 0xF4);
        int answers = 0;
        while ((Status() & 0x01) != 0)
        {
            _ = _bus.In(0x60, 1);
            answers++;
        }
        Assert.That(answers, Is.EqualTo(16));
    }

    [Test]
    public void FastA20Port_SharesTheGateWithTheController()
    {
        _bus.Out(0x92, 1, 0x00);
        Assert.That(_kbc.A20Enabled, Is.False);
        Assert.That(_bus.In(0x92, 1), Is.Zero);

        _bus.Out(0x92, 1, 0x02);
        Assert.That(_kbc.A20Enabled, Is.True);
        Assert.That(_bus.In(0x92, 1), Is.EqualTo(0x02));

        _bus.Out(0x64, 1, 0xDD);
        Assert.That(_bus.In(0x92, 1) & 0x02, Is.Zero, "the last write wins");
        Assert.That(_resets, Is.Zero);
    }

    [Test]
    public void FastResetBit_ResetsTheCpu()
    {
        _bus.Out(0x92, 1, 0x03);
        Assert.That(_resets, Is.EqualTo(1));
        Assert.That(_port92.ResetRequests, Is.EqualTo(1));
        Assert.That(_bus.In(0x92, 1) & 0x01, Is.Zero);
    }

    [Test]
    public void A20Changes_AreAnnounced()
    {
        var changes = new List<bool>();
        _kbc.A20.Changed += changes.Add;
        _bus.Out(0x64, 1, 0xDD);
        _bus.Out(0x64, 1, 0xDD);
        _bus.Out(0x92, 1, 0x02);
        Assert.That(changes, Is.EqualTo(new[] { false, true }));
    }

    [Test]
    public void AnyAccess_NeverThrows()
    {
        var random = new Random(7);
        ushort[] ports = [0x60, 0x64, 0x92];
        Assert.DoesNotThrow(() =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                ushort port = ports[random.Next(3)];
                if (random.Next(2) == 0)
                    _ = _bus.In(port, 1 << random.Next(3));
                else
                    _bus.Out(port, 1 << random.Next(3), (uint)random.Next());
            }
        });
    }
}

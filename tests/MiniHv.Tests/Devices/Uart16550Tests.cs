using System.Text;
using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class Uart16550Tests
{
    private const ushort Com1 = 0x3F8;
    private const ushort Rbr = Com1, Thr = Com1, Ier = Com1 + 1, Iir = Com1 + 2, Fcr = Com1 + 2;
    private const ushort Lcr = Com1 + 3, Mcr = Com1 + 4, Lsr = Com1 + 5, Msr = Com1 + 6, Scr = Com1 + 7;

    private IoBus _bus = null!;
    private RecordingIrqLines _irqs = null!;
    private List<byte> _output = null!;
    private Uart16550 _uart = null!;

    [SetUp]
    public void SetUp()
    {
        _bus = new IoBus();
        _irqs = new RecordingIrqLines();
        _output = [];
        _uart = new Uart16550(_irqs, _output.Add);
        _uart.Attach(_bus);
    }

    private byte In(ushort port) => (byte)_bus.In(port, 1);

    private void Out(ushort port, byte value) => _bus.Out(port, 1, value);

    [Test]
    public void BytesWrittenToThr_GoToTheOutputAndLsrShowsTransmitterEmpty()
    {
        foreach (byte b in "hi\n"u8)
        {
            Assert.That(In(Lsr) & 0x60, Is.EqualTo(0x60));
            Out(Thr, b);
        }
        Assert.That(Encoding.ASCII.GetString([.. _output]), Is.EqualTo("hi\n"));
        Assert.That(_irqs.IsHigh(4), Is.False, "no interrupts enabled");
    }

    [Test]
    public void DivisorLatch_IsReachedWithDlabAndDoesNotTransmit()
    {
        Out(Lcr, 0x80);
        Out(Com1, 0x01);
        Out(Com1 + 1, 0x00);
        Assert.That(In(Com1), Is.EqualTo(0x01));
        Assert.That(_uart.Divisor, Is.EqualTo(1));

        Out(Lcr, 0x03);
        Assert.That(In(Lcr), Is.EqualTo(0x03));
        Out(Thr, (byte)'x');
        Assert.That(_output, Is.EqualTo(new[] { (byte)'x' }));
        Assert.That(_uart.Divisor, Is.EqualTo(1));
    }

    [Test]
    public void ReceivedBytes_RaiseIrq4AndAreReadInOrder()
    {
        Out(Ier, 0x01);
        _uart.EnqueueInput("ab"u8);
        _uart.Poll();

        Assert.That(_irqs.IsHigh(4), Is.True);
        Assert.That(In(Lsr) & 0x01, Is.EqualTo(1));
        Assert.That(In(Iir), Is.EqualTo(0x04));
        Assert.That(In(Rbr), Is.EqualTo((byte)'a'));
        Assert.That(_irqs.IsHigh(4), Is.True, "'b' is still waiting");
        Assert.That(In(Rbr), Is.EqualTo((byte)'b'));

        Assert.That(In(Lsr) & 0x01, Is.Zero);
        Assert.That(In(Iir), Is.EqualTo(0x01));
        Assert.That(_irqs.IsHigh(4), Is.False);
    }

    [Test]
    public void InputBeforeInterruptsAreEnabled_InterruptsWhenIerIsSet()
    {
        _uart.EnqueueInput("z"u8);
        _uart.Poll();
        Assert.That(_irqs.IsHigh(4), Is.False);
        Out(Ier, 0x01);
        Assert.That(_irqs.IsHigh(4), Is.True);
    }

    [Test]
    public void Iir_ReportsReceivedDataBeforeTransmitterEmpty_AndReadingIirClearsTransmitterEmpty()
    {
        _uart.EnqueueInput("q"u8);
        Out(Ier, 0x03);

        Assert.That(In(Iir), Is.EqualTo(0x04));
        _ = In(Rbr);
        Assert.That(_irqs.IsHigh(4), Is.True);
        Assert.That(In(Iir), Is.EqualTo(0x02));
        Assert.That(In(Iir), Is.EqualTo(0x01), "reading IIR acknowledged THR empty");
        Assert.That(_irqs.IsHigh(4), Is.False);
    }

    [Test]
    public void TransmitterEmptyInterrupt_GivesAFreshEdgePerByte()
    {
        Out(Ier, 0x02);
        Assert.That(_irqs.RisingEdges(4), Is.EqualTo(1), "enabling it with THR empty interrupts at once");
        Out(Thr, (byte)'a');
        Out(Thr, (byte)'b');
        Assert.That(_irqs.RisingEdges(4), Is.EqualTo(3));
        Assert.That(In(Iir), Is.EqualTo(0x02));
    }

    [Test]
    public void ModemStatusInterrupt_HasLowestPriority()
    {
        Out(Mcr, 0x10); // loopback: MSR follows MCR
        _ = In(Msr);    // forget the deltas of entering loopback
        Out(Mcr, 0x13); // DTR and RTS up: DSR and CTS change
        Out(Ier, 0x0A);
        Assert.That(In(Iir), Is.EqualTo(0x02));
        Assert.That(In(Iir), Is.EqualTo(0x00));
        Assert.That(In(Msr), Is.EqualTo(0x30 | 0x03));
        Assert.That(In(Iir), Is.EqualTo(0x01));
    }

    [Test]
    public void Fifo_ShowsInIirAndIsCountedAgainstTheTriggerLevel()
    {
        Out(Fcr, 0xC7); // enable, clear both, trigger at 14
        Out(Ier, 0x01);
        _uart.EnqueueInput("abc"u8);
        _uart.Poll();
        Assert.That(In(Iir), Is.EqualTo(0xC0 | 0x0C), "below the trigger level: character timeout");

        _uart.EnqueueInput("0123456789abcdef"u8);
        _uart.Poll();
        Assert.That(In(Iir), Is.EqualTo(0xC0 | 0x04));
    }

    [Test]
    public void FifoClear_DropsWhatTheReceiverHeld()
    {
        _uart.EnqueueInput("xy"u8);
        Out(Fcr, 0x07);
        Assert.That(In(Rbr), Is.EqualTo((byte)'y'), "the byte in RBR was lost, the next came in");
    }

    [Test]
    public void Loopback_SendsTransmittedBytesBackToTheReceiver()
    {
        Out(Mcr, 0x1B);
        Out(Thr, 0x55);
        Assert.That(_output, Is.Empty);
        Assert.That(In(Lsr) & 0x01, Is.EqualTo(1));
        Assert.That(In(Rbr), Is.EqualTo(0x55));
        Assert.That(In(Msr) & 0xF0, Is.EqualTo(0xB0), "DCD from OUT2, DSR from DTR, CTS from RTS");
    }

    [Test]
    public void ScratchRegister_ReadsBack()
    {
        Out(Scr, 0xA5);
        Assert.That(In(Scr), Is.EqualTo(0xA5));
    }

    [Test]
    public void InputFromAnotherThread_ArrivesCompleteAndInOrder()
    {
        const int Count = 100_000;
        var writer = new Thread(() =>
        {
            byte[] chunk = new byte[10];
            for (int i = 0; i < Count; i += 10)
            {
                for (int j = 0; j < 10; j++)
                    chunk[j] = (byte)(i + j);
                _uart.EnqueueInput(chunk);
            }
        });
        writer.Start();

        int received = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (received < Count && DateTime.UtcNow < deadline)
        {
            if ((In(Lsr) & 1) == 0)
                continue;
            Assert.That(In(Rbr), Is.EqualTo((byte)received));
            received++;
        }
        writer.Join();
        Assert.That(received, Is.EqualTo(Count));
    }

    [Test]
    public void InputArrived_IsRaisedForTheMachineToWake()
    {
        int raised = 0;
        _uart.InputArrived += () => raised++;
        _uart.EnqueueInput("k"u8);
        Assert.That(raised, Is.EqualTo(1));
        Assert.That(_uart.HasPendingInput, Is.True);
    }
}

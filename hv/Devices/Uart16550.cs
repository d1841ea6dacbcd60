namespace MiniHv.Hv.Devices;

/// <summary>A 16550A serial port (COM1 by default: 0x3F8-0x3FF, IRQ 4) whose line is the host's stdout and stdin.</summary>
/// <remarks>
/// Transmission is instant: a byte written to THR goes straight to the output callback, so THR and the
/// transmitter are always empty. Received bytes wait in a host-side queue that <see cref="EnqueueInput"/>
/// fills from any thread; the UART shows the guest the head of that queue (one byte, or up to 16 with
/// FIFOs on) and takes the next only when the guest reads one, as flow control would, so input never
/// overruns. Everything else runs on the VM's thread: call <see cref="Poll"/> there to raise the receive
/// interrupt for input that arrived in between. As in QEMU, the interrupt reaches the PIC whatever MCR
/// OUT2 says (xv6 never sets it).
/// </remarks>
public sealed class Uart16550 : IPortDevice
{
    public const ushort Com1Port = 0x3F8;
    public const int Com1Irq = 4;

    /// <summary>Bytes of input held for the guest before further input is dropped.</summary>
    public const int InputCapacity = 1 << 20;

    private const int FifoSize = 16;

    // IIR interrupt identities, highest priority first.
    private const byte IirLineStatus = 0x06;
    private const byte IirReceivedData = 0x04;
    private const byte IirCharacterTimeout = 0x0C;
    private const byte IirTransmitterEmpty = 0x02;
    private const byte IirModemStatus = 0x00;
    private const byte IirNone = 0x01;

    private readonly IIrqLines _irqs;
    private readonly int _irq;
    private readonly Action<byte> _output;

    private readonly Lock _inputLock = new();
    private byte[] _input = new byte[256];
    private int _inputHead;
    private int _inputCount; // written under the lock; read without it on the VM thread (it only grows from elsewhere)

    private byte _ier;
    private byte _lcr;
    private byte _mcr;
    private byte _scr;
    private byte _dll = 12; // 9600 baud until the guest sets a rate
    private byte _dlm;
    private bool _fifoEnabled;
    private int _rxTrigger = 1;
    private bool _thrEmptyInterrupt;
    private byte _msr = 0xB0; // DCD, DSR and CTS: a line is attached
    private byte _lastReceived;
    private bool _irqLevel;

    /// <param name="irqs">The interrupt lines; the UART drives <paramref name="irq"/>.</param>
    /// <param name="output">Receives each transmitted byte, on the VM's thread.</param>
    public Uart16550(IIrqLines irqs, Action<byte> output, ushort basePort = Com1Port, int irq = Com1Irq)
    {
        ArgumentNullException.ThrowIfNull(irqs);
        ArgumentNullException.ThrowIfNull(output);
        _irqs = irqs;
        _output = output;
        BasePort = basePort;
        _irq = irq;
    }

    public ushort BasePort { get; }

    /// <summary>Raised on the enqueuing thread after input arrives, so a machine can wake a halted vCPU.</summary>
    public event Action? InputArrived;

    /// <summary>True while received bytes wait for the guest.</summary>
    public bool HasPendingInput => Volatile.Read(ref _inputCount) > 0;

    /// <summary>Input bytes dropped because <see cref="InputCapacity"/> was reached.</summary>
    public long DroppedInputBytes { get; private set; }

    /// <summary>The divisor latch; the line runs at 115200 / divisor baud.</summary>
    public ushort Divisor => (ushort)(_dlm << 8 | _dll);

    /// <summary>True while the guest has the UART in loopback mode (MCR bit 4).</summary>
    public bool Loopback => (_mcr & 0x10) != 0;

    /// <summary>Claims the eight ports from <see cref="BasePort"/>.</summary>
    public void Attach(IoBus bus) => bus.Register(BasePort, 8, this);

    /// <summary>Queues bytes from the host for the guest to receive. Safe from any thread.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return;
        lock (_inputLock)
            Append(bytes);
        InputArrived?.Invoke();
    }

    /// <summary>Brings the IRQ line up to date with input that arrived from another thread. Call on the VM's thread.</summary>
    public void Poll() => UpdateIrq();

    public uint ReadPort(ushort port, int size)
    {
        byte value = (port - BasePort) switch
        {
            0 => Dlab ? _dll : ReadReceiveBuffer(),
            1 => Dlab ? _dlm : _ier,
            2 => ReadInterruptIdentification(),
            3 => _lcr,
            4 => _mcr,
            5 => LineStatus(),
            6 => ReadModemStatus(),
            _ => _scr,
        };
        UpdateIrq();
        return value;
    }

    public void WritePort(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        switch (port - BasePort)
        {
            case 0:
                if (Dlab)
                    _dll = b;
                else
                    Transmit(b);
                break;
            case 1:
                if (Dlab)
                {
                    _dlm = b;
                }
                else
                {
                    // Enabling the THR-empty interrupt while THR is empty (always, here) asks for one at once.
                    if ((b & 0x02) != 0 && (_ier & 0x02) == 0)
                        _thrEmptyInterrupt = true;
                    _ier = (byte)(b & 0x0F);
                }
                break;
            case 2:
                WriteFifoControl(b);
                break;
            case 3:
                _lcr = b;
                break;
            case 4:
                WriteModemControl((byte)(b & 0x1F));
                break;
            case 7:
                _scr = b;
                break;
            // LSR and MSR are read-only.
        }
        UpdateIrq();
    }

    private bool Dlab => (_lcr & 0x80) != 0;

    // Bytes the receiver shows the guest: the RBR alone, or the 16-byte FIFO.
    private int ReceiverCount => Math.Min(Volatile.Read(ref _inputCount), _fifoEnabled ? FifoSize : 1);

    private void Transmit(byte b)
    {
        // THR empties at once: the THR-empty interrupt drops and comes back, a fresh edge per byte as on a real line.
        _thrEmptyInterrupt = false;
        UpdateIrq();
        if (Loopback)
        {
            lock (_inputLock)
                Append(new ReadOnlySpan<byte>(in b));
        }
        else
        {
            _output(b);
        }
        _thrEmptyInterrupt = true;
    }

    private byte ReadReceiveBuffer()
    {
        lock (_inputLock)
        {
            if (_inputCount > 0)
            {
                _lastReceived = _input[_inputHead];
                _inputHead = (_inputHead + 1) % _input.Length;
                Volatile.Write(ref _inputCount, _inputCount - 1);
            }
        }
        return _lastReceived; // an empty receiver reads the last byte again
    }

    private byte ReadInterruptIdentification()
    {
        byte id = PendingInterrupt();
        if (id == IirTransmitterEmpty)
            _thrEmptyInterrupt = false; // reading IIR is how the guest acknowledges THR empty
        return (byte)(id | (_fifoEnabled ? 0xC0 : 0));
    }

    private byte LineStatus()
    {
        // THR empty (5) and transmitter empty (6) always: output is instant. No errors: input cannot overrun.
        return (byte)(0x60 | (Volatile.Read(ref _inputCount) > 0 ? 0x01 : 0));
    }

    private byte ReadModemStatus()
    {
        byte value = _msr;
        _msr &= 0xF0; // reading MSR clears the delta bits
        return value;
    }

    private void WriteFifoControl(byte b)
    {
        bool enable = (b & 0x01) != 0;
        // Switching the FIFOs on or off clears them, as does bit 1; what the receiver held is lost.
        if (enable != _fifoEnabled || (enable && (b & 0x02) != 0))
            DropReceived(ReceiverCount);
        _fifoEnabled = enable;
        if (enable)
        {
            _rxTrigger = (b >> 6) switch
            {
                0 => 1,
                1 => 4,
                2 => 8,
                _ => 14,
            };
        }
    }

    private void WriteModemControl(byte value)
    {
        _mcr = value;
        byte lines = Loopback
            // Loopback wires RTS to CTS, DTR to DSR, OUT1 to RI and OUT2 to DCD.
            ? (byte)((value & 0x02) << 3 | (value & 0x01) << 5 | (value & 0x04) << 4 | (value & 0x08) << 4)
            : (byte)0xB0;
        byte old = _msr;
        byte changed = (byte)((old ^ lines) & 0xF0);
        byte delta = (byte)(old & 0x0F);
        if ((changed & 0x10) != 0)
            delta |= 0x01;
        if ((changed & 0x20) != 0)
            delta |= 0x02;
        if ((old & 0x40) != 0 && (lines & 0x40) == 0)
            delta |= 0x04; // trailing edge of RI
        if ((changed & 0x80) != 0)
            delta |= 0x08;
        _msr = (byte)(lines | delta);
    }

    /// <summary>The highest-priority pending interrupt as an IIR identity (bits 0-3).</summary>
    private byte PendingInterrupt()
    {
        if ((_ier & 0x01) != 0)
        {
            int count = ReceiverCount;
            if (count > 0)
            {
                if (!_fifoEnabled || count >= _rxTrigger)
                    return IirReceivedData;
                // Below the trigger level no more bytes are on the way right now, so the timeout is due at once.
                return IirCharacterTimeout;
            }
        }
        if ((_ier & 0x02) != 0 && _thrEmptyInterrupt)
            return IirTransmitterEmpty;
        if ((_ier & 0x08) != 0 && (_msr & 0x0F) != 0)
            return IirModemStatus;
        return IirNone;
    }

    private void UpdateIrq()
    {
        bool level = PendingInterrupt() != IirNone;
        if (level == _irqLevel)
            return;
        _irqLevel = level;
        if (level)
            _irqs.RaiseIrq(_irq);
        else
            _irqs.LowerIrq(_irq);
    }

    private void DropReceived(int count)
    {
        lock (_inputLock)
        {
            count = Math.Min(count, _inputCount);
            _inputHead = (_inputHead + count) % _input.Length;
            Volatile.Write(ref _inputCount, _inputCount - count);
        }
    }

    // Caller holds _inputLock.
    private void Append(ReadOnlySpan<byte> bytes)
    {
        int room = InputCapacity - _inputCount;
        if (bytes.Length > room)
        {
            DroppedInputBytes += bytes.Length - room;
            bytes = bytes[..room];
        }
        if (_inputCount + bytes.Length > _input.Length)
            Grow(_inputCount + bytes.Length);
        int tail = (_inputHead + _inputCount) % _input.Length;
        int first = Math.Min(bytes.Length, _input.Length - tail);
        bytes[..first].CopyTo(_input.AsSpan(tail));
        bytes[first..].CopyTo(_input);
        Volatile.Write(ref _inputCount, _inputCount + bytes.Length);
    }

    private void Grow(int needed)
    {
        int size = _input.Length;
        while (size < needed)
            size *= 2;
        byte[] bigger = new byte[size];
        int first = Math.Min(_inputCount, _input.Length - _inputHead);
        _input.AsSpan(_inputHead, first).CopyTo(bigger);
        _input.AsSpan(0, _inputCount - first).CopyTo(bigger.AsSpan(first));
        _input = bigger;
        _inputHead = 0;
    }
}

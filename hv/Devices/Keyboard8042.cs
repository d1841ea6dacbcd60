namespace MiniHv.Hv.Devices;

/// <summary>
/// The 8042 keyboard controller at 0x60/0x64, polled, with a keyboard that answers commands but has no keys
/// pressed: its status, command byte and RAM, self-tests, and the output port that holds the A20 gate and the
/// CPU reset line.
/// </summary>
/// <remarks>
/// <code>
/// 0x60  R  output buffer: the controller's or the keyboard's answer   W  data: a command's argument, or a keyboard command
/// 0x64  R  status: output full (0), input full (1, never: input is taken at once), system flag (2),
///          last write was a command (3), not inhibited (4), output is from the aux port (5)
///       W  command: 0x20-0x3F read RAM, 0x60-0x7F write RAM (byte 0 is the command byte), 0xA7/0xA8 aux
///          off/on, 0xA9/0xAB interface tests, 0xAA self-test, 0xAD/0xAE keyboard off/on, 0xD0/0xD1 read/write
///          the output port, 0xD2/0xD3 echo as keyboard/aux data, 0xD4 to the aux device (dropped: there is
///          none), 0xDD/0xDF A20 off/on, 0xE0 test inputs, 0xF0-0xFF pulse output port bits 0-3
/// output port: reset (0, active low), A20 (1), bits 2-3 high, output full (4), aux output full (5), bits 6-7 high
/// </code>
/// Writing the output port with bit 0 clear, or pulsing bit 0 (command 0xFE), resets the CPU: the machine
/// learns of it through the reset callback. The keyboard acknowledges every command with 0xFA (0xFF also
/// reports a passed self-test, 0xF2 its ID, 0xEE echoes). No IRQ 1 or 12 is raised.
/// </remarks>
public sealed class Keyboard8042 : IPortDevice
{
    public const ushort DataPort = 0x60;
    public const ushort StatusPort = 0x64;

    public const byte StatusOutputFull = 0x01;
    public const byte StatusInputFull = 0x02;
    public const byte StatusSystemFlag = 0x04;
    public const byte StatusLastWriteWasCommand = 0x08;
    public const byte StatusNotInhibited = 0x10;
    public const byte StatusAuxOutputFull = 0x20;

    private const byte OutputPortReset = 0x01;
    private const byte OutputPortA20 = 0x02;
    private const byte KeyboardAck = 0xFA;

    // Answers waiting to be read, as the keyboard's own buffer holds them; more are dropped, so a guest that never reads cannot grow it.
    private const int OutputCapacity = 16;

    private readonly Action? _resetRequested;
    private readonly byte[] _ram = new byte[32];
    private readonly Queue<(byte Value, bool Aux)> _output = new();
    private byte _commandAwaitingData; // a controller command whose argument comes through 0x60, or 0
    private bool _lastWriteWasCommand;
    private byte _lastRead;

    /// <param name="a20">The A20 gate the output port drives; a new one, open, when null.</param>
    /// <param name="resetRequested">Called when the guest pulses the reset line, on the VM's thread.</param>
    public Keyboard8042(A20Gate? a20 = null, Action? resetRequested = null)
    {
        A20 = a20 ?? new A20Gate();
        _resetRequested = resetRequested;
        _ram[0] = 0x45; // keyboard interrupt, system flag, scan code translation: as a BIOS leaves it
    }

    public A20Gate A20 { get; }

    /// <summary>True while the A20 gate is open.</summary>
    public bool A20Enabled => A20.Enabled;

    /// <summary>CPU resets the guest asked for through the controller.</summary>
    public int ResetRequests { get; private set; }

    /// <summary>The command byte (controller RAM byte 0).</summary>
    public byte CommandByte => _ram[0];

    /// <summary>Claims 0x60 and 0x64.</summary>
    public void Attach(IoBus bus)
    {
        bus.Register(DataPort, 1, this);
        bus.Register(StatusPort, 1, this);
    }

    public uint ReadPort(ushort port, int size)
    {
        if (port == StatusPort)
            return Status();
        if (_output.TryDequeue(out (byte Value, bool Aux) next))
            _lastRead = next.Value;
        return _lastRead; // an empty buffer reads the last byte again
    }

    public void WritePort(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        _lastWriteWasCommand = port == StatusPort;
        if (port == StatusPort)
        {
            _commandAwaitingData = 0;
            ControllerCommand(b);
        }
        else if (_commandAwaitingData != 0)
        {
            byte command = _commandAwaitingData;
            _commandAwaitingData = 0;
            CommandArgument(command, b);
        }
        else
        {
            KeyboardCommand(b);
        }
    }

    private byte Status()
    {
        int status = StatusNotInhibited | (_ram[0] & StatusSystemFlag);
        if (_output.TryPeek(out (byte Value, bool Aux) head))
            status |= StatusOutputFull | (head.Aux ? StatusAuxOutputFull : 0);
        if (_lastWriteWasCommand)
            status |= StatusLastWriteWasCommand;
        return (byte)status;
    }

    private byte OutputPort()
    {
        int value = 0xCC | OutputPortReset | (A20.Enabled ? OutputPortA20 : 0);
        if (_output.TryPeek(out (byte Value, bool Aux) head))
            value |= head.Aux ? 0x20 : 0x10;
        return (byte)value;
    }

    private void ControllerCommand(byte command)
    {
        switch (command)
        {
            case >= 0x20 and <= 0x3F:
                Answer(_ram[command & 0x1F]);
                break;
            case >= 0x60 and <= 0x7F:
            case 0xD1:
            case 0xD2:
            case 0xD3:
            case 0xD4:
                _commandAwaitingData = command;
                break;
            case 0xA7:
                _ram[0] |= 0x20;
                break;
            case 0xA8:
                _ram[0] &= 0xDF;
                break;
            case 0xA9:
            case 0xAB:
                Answer(0x00); // interface test passed
                break;
            case 0xAA:
                Answer(0x55); // self-test passed
                break;
            case 0xAD:
                _ram[0] |= 0x10;
                break;
            case 0xAE:
                _ram[0] &= 0xEF;
                break;
            case 0xD0:
                Answer(OutputPort());
                break;
            case 0xDD:
                A20.Set(false);
                break;
            case 0xDF:
                A20.Set(true);
                break;
            case 0xE0:
                Answer(0x00);
                break;
            case >= 0xF0:
                // Pulse the output port bits whose command bit is 0; only bit 0, reset, does anything.
                if ((command & OutputPortReset) == 0)
                    RequestReset();
                break;
            // Anything else is ignored, as an 8042 ignores commands it does not know.
        }
    }

    private void CommandArgument(byte command, byte value)
    {
        switch (command)
        {
            case >= 0x60 and <= 0x7F:
                _ram[command & 0x1F] = value;
                break;
            case 0xD1:
                A20.Set((value & OutputPortA20) != 0);
                if ((value & OutputPortReset) == 0)
                    RequestReset();
                break;
            case 0xD2:
                Enqueue(value, aux: false);
                break;
            case 0xD3:
                Enqueue(value, aux: true);
                break;
            // 0xD4: for the aux device, and there is none.
        }
    }

    private void KeyboardCommand(byte command)
    {
        Answer(command == 0xEE ? (byte)0xEE : KeyboardAck);
        if (command == 0xFF)
            Answer(0xAA); // reset: self-test passed
        else if (command == 0xF2)
        {
            Answer(0xAB); // identify: an MF2 keyboard
            Answer(0x83);
        }
    }

    private void Answer(byte value) => Enqueue(value, aux: false);

    private void Enqueue(byte value, bool aux)
    {
        if (_output.Count < OutputCapacity)
            _output.Enqueue((value, aux));
    }

    private void RequestReset()
    {
        ResetRequests++;
        _resetRequested?.Invoke();
    }
}

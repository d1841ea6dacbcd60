namespace MiniHv.Hv.Devices;

/// <summary>The 8254 interval timer at 0x40-0x43 (channel 0 on IRQ 0) and port 0x61, running on virtual time.</summary>
/// <remarks>
/// Time is the guest's instruction count: <see cref="Advance"/> moves it, and the 1.193182 MHz input
/// clock has ticked floor(instructions * 1193182 / instructionsPerSecond) times, so a run replays exactly.
/// Counters are not stepped tick by tick; each one keeps the tick at which it last held a known
/// value and derives its count and output from that. Time stands still between calls to Advance,
/// so a guest that spins reading a count sees it move only as fast as the machine advances time.
/// </remarks>
public sealed class Pit8254 : IPortDevice
{
    /// <summary>The PC's PIT input clock, in Hz.</summary>
    public const int InputHz = 1_193_182;

    public const long DefaultInstructionsPerSecond = 100_000_000;
    public const ushort FirstPort = 0x40;
    public const ushort ControlPort = 0x43;

    /// <summary>System control port B: channel 2 gate and speaker enable (bits 0-1), refresh toggle (4), channel 2 output (5).</summary>
    public const ushort SystemControlPort = 0x61;

    // About 15 µs: the DRAM refresh request period that toggles port 0x61 bit 4.
    private const int RefreshTicks = 18;

    private readonly IIrqLines _irqs;
    private readonly Channel[] _channels = [new(), new(), new()];
    private long _instructions;
    private long _tick;
    private bool _out0 = true; // channel 0 starts as a BIOS leaves it, OUT high, so the guest's first mode 2/3 setup is no edge
    private byte _portB;

    private readonly Func<long>? _now;
    private readonly Action? _reprogrammed;

    /// <param name="irqs">Where channel 0's output drives IRQ 0.</param>
    /// <param name="instructionsPerSecond">Guest instructions per virtual second.</param>
    /// <param name="now">
    /// The exact virtual time in instructions, when the machine can tell it in the middle of a run: a guest
    /// that reads or programs the timer then does so at the instruction it is at, not at the start of the
    /// machine's current slice (which would make the timing depend on how the machine slices time).
    /// </param>
    /// <param name="reprogrammed">Called after a write that may move the next interrupt: a machine that ran ahead to the old one must stop and look again.</param>
    public Pit8254(IIrqLines irqs, long instructionsPerSecond = DefaultInstructionsPerSecond, Func<long>? now = null, Action? reprogrammed = null)
    {
        ArgumentNullException.ThrowIfNull(irqs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(instructionsPerSecond);
        _irqs = irqs;
        InstructionsPerSecond = instructionsPerSecond;
        _now = now;
        _reprogrammed = reprogrammed;
    }

    /// <summary>Moves virtual time on to <paramref name="instructions"/> in all, if that is later than now.</summary>
    public void AdvanceTo(long instructions)
    {
        if (instructions > _instructions)
            Advance(instructions - _instructions);
    }

    private void CatchUp()
    {
        if (_now != null)
            AdvanceTo(_now());
    }

    public long InstructionsPerSecond { get; }

    /// <summary>Guest instructions of virtual time so far.</summary>
    public long Instructions => _instructions;

    /// <summary>PIT input clock ticks so far.</summary>
    public long Ticks => _tick;

    /// <summary>Virtual time so far (brought up to the exact instruction when the machine can tell it), for clocks that follow it (the RTC).</summary>
    public TimeSpan VirtualTime => VirtualTimeAfterCatchUp();

    private TimeSpan VirtualTimeAfterCatchUp()
    {
        CatchUp();
        return VirtualTimeSoFar;
    }

    private TimeSpan VirtualTimeSoFar => TimeSpan.FromTicks((long)((Int128)_instructions * TimeSpan.TicksPerSecond / InstructionsPerSecond));

    /// <summary>Rising edges channel 0 has driven onto IRQ 0 (coalesced periods count once).</summary>
    public long Irq0Edges { get; private set; }

    /// <summary>Claims 0x40-0x43 and 0x61.</summary>
    public void Attach(IoBus bus)
    {
        bus.Register(FirstPort, 4, this);
        bus.Register(SystemControlPort, 1, this);
    }

    /// <summary>
    /// Moves virtual time on by <paramref name="instructions"/>. If channel 0's output rose in that span,
    /// IRQ 0 gets one rising edge: several periods crossed in one call coalesce into one request, which is
    /// all the PIC could latch anyway since the CPU did not run between them.
    /// </summary>
    public void Advance(long instructions)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(instructions);
        if (instructions == 0)
            return;
        long before = _tick;
        _instructions = instructions > long.MaxValue - _instructions ? long.MaxValue : _instructions + instructions;
        _tick = TickAt(_instructions);

        if (_channels[0].NextRisingEdgeAfter(before) <= _tick)
        {
            if (_out0)
                _irqs.LowerIrq(0);
            _irqs.RaiseIrq(0);
            _out0 = true;
            Irq0Edges++;
        }
        DriveIrq0();
    }

    /// <summary>
    /// Instructions to run until channel 0's next rising edge (at least 1), so the machine can stop the CPU
    /// exactly there; <see cref="long.MaxValue"/> when channel 0 will not interrupt again.
    /// </summary>
    public long InstructionsUntilNextEvent()
    {
        long edge = _channels[0].NextRisingEdgeAfter(_tick);
        if (edge == long.MaxValue)
            return long.MaxValue;
        // The first instruction count whose tick reaches the edge: ceil(edge * rate / InputHz).
        Int128 at = ((Int128)edge * InstructionsPerSecond + InputHz - 1) / InputHz;
        Int128 wait = at - _instructions;
        return wait > long.MaxValue ? long.MaxValue : (long)Int128.Max(wait, 1);
    }

    public uint ReadPort(ushort port, int size)
    {
        CatchUp();
        if (port == SystemControlPort)
        {
            int refresh = (int)(_tick / RefreshTicks & 1);
            int out2 = _channels[2].OutAt(_tick) ? 1 : 0;
            return (uint)((_portB & 0x0F) | refresh << 4 | out2 << 5);
        }
        if (port == ControlPort)
            return 0xFF; // the control word register is write-only
        return _channels[port - FirstPort].ReadByte(_tick);
    }

    public void WritePort(ushort port, int size, uint value)
    {
        CatchUp();
        WriteRegister(port, value);
        _reprogrammed?.Invoke();
    }

    private void WriteRegister(ushort port, uint value)
    {
        byte b = (byte)value;
        if (port == SystemControlPort)
        {
            _portB = (byte)(b & 0x0F);
            _channels[2].SetGate((b & 1) != 0, _tick);
        }
        else if (port == ControlPort)
        {
            WriteControl(b);
        }
        else
        {
            _channels[port - FirstPort].WriteByte(b, _tick);
        }
        DriveIrq0(); // reprogramming channel 0 can move its output at once
    }

    private long TickAt(long instructions) => (long)((Int128)instructions * InputHz / InstructionsPerSecond);

    private void WriteControl(byte value)
    {
        int select = value >> 6;
        if (select == 3)
        {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick channels 0-2.
            for (int i = 0; i < 3; i++)
            {
                if ((value & (2 << i)) == 0)
                    continue;
                if ((value & 0x20) == 0)
                    _channels[i].LatchCount(_tick);
                if ((value & 0x10) == 0)
                    _channels[i].LatchStatus(_tick);
            }
            return;
        }
        int access = (value >> 4) & 3;
        if (access == 0)
            _channels[select].LatchCount(_tick);
        else
            _channels[select].Program((value >> 1) & 7, access, (value & 1) != 0, _tick);
    }

    private void DriveIrq0()
    {
        bool level = _channels[0].OutAt(_tick);
        if (level == _out0)
            return;
        _out0 = level;
        if (level)
        {
            _irqs.RaiseIrq(0);
            Irq0Edges++;
        }
        else
        {
            _irqs.LowerIrq(0);
        }
    }

    /// <summary>One counter: count register, counting element, output, latches.</summary>
    private sealed class Channel
    {
        private int _mode = 3;        // 0-5; the aliases 6 and 7 fold to 2 and 3
        private int _modeBits = 3;    // as programmed, for the status byte
        private int _access = 3;      // 1 LSB only, 2 MSB only, 3 LSB then MSB
        private bool _bcd;
        private bool _gate = true;    // only channel 2's gate is wired (port 0x61 bit 0)
        private bool _armed;          // a count was written since the control word
        private bool _running;        // the counting element is counting
        private bool _waitingTrigger; // modes 1 and 5: armed, waiting for a gate rising edge
        private int _reload;          // the count register as a length, 1..65536 (1..10000 in BCD)
        private int _pendingReload;   // modes 2/3: a count written mid-period, taken at the period's end; 0 if none
        private long _anchor;         // one-shot: tick at which the CE held _anchorValue; periodic: start of this period
        private int _anchorValue;     // one-shot: the CE at _anchor (ticks to terminal count); periodic: period length
        private bool _tcPassed;       // one-shot: terminal count was reached by _anchor
        private int _heldCount;       // the CE while it is not counting
        private bool _writeMsbNext;
        private byte _writeLsb;
        private bool _readMsbNext;
        private int _latchedCount = -1;
        private int _latchedStatus = -1;

        private int Modulus => _bcd ? 10000 : 65536;

        private bool IsPeriodic => _mode is 2 or 3;

        public void Program(int modeBits, int access, bool bcd, long t)
        {
            _heldCount = CountAt(t);
            _modeBits = modeBits;
            _mode = modeBits >= 6 ? modeBits - 4 : modeBits;
            _access = access;
            _bcd = bcd;
            _armed = false;
            _running = false;
            _waitingTrigger = false;
            _pendingReload = 0;
            _tcPassed = false;
            _writeMsbNext = false;
            _readMsbNext = false;
            _latchedCount = -1;
            _latchedStatus = -1;
        }

        public void WriteByte(byte value, long t)
        {
            switch (_access)
            {
                case 1:
                    Load(value, t);
                    break;
                case 2:
                    Load(value << 8, t);
                    break;
                default:
                    if (!_writeMsbNext)
                    {
                        _writeLsb = value;
                        _writeMsbNext = true;
                        if (_mode == 0)
                        {
                            // Mode 0: the first byte of a new count stops counting and drives OUT low.
                            _heldCount = CountAt(t);
                            _armed = false;
                            _running = false;
                        }
                    }
                    else
                    {
                        _writeMsbNext = false;
                        Load(_writeLsb | value << 8, t);
                    }
                    break;
            }
        }

        public byte ReadByte(long t)
        {
            if (_latchedStatus >= 0)
            {
                int status = _latchedStatus;
                _latchedStatus = -1;
                return (byte)status;
            }
            bool latched = _latchedCount >= 0;
            int value = latched ? _latchedCount : ToRegister(CountAt(t));
            bool lastByte;
            byte result;
            switch (_access)
            {
                case 1:
                    result = (byte)value;
                    lastByte = true;
                    break;
                case 2:
                    result = (byte)(value >> 8);
                    lastByte = true;
                    break;
                default:
                    result = _readMsbNext ? (byte)(value >> 8) : (byte)value;
                    lastByte = _readMsbNext;
                    _readMsbNext = !_readMsbNext;
                    break;
            }
            if (latched && lastByte)
                _latchedCount = -1;
            return result;
        }

        public void LatchCount(long t)
        {
            if (_latchedCount < 0)
                _latchedCount = ToRegister(CountAt(t));
        }

        public void LatchStatus(long t)
        {
            if (_latchedStatus >= 0)
                return;
            bool nullCount = !_armed || _waitingTrigger || _pendingReload != 0;
            _latchedStatus = (OutAt(t) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | _access << 4 | _modeBits << 1 | (_bcd ? 1 : 0);
        }

        public void SetGate(bool gate, long t)
        {
            if (gate == _gate)
                return;
            if (IsPeriodic)
                Sync(t);
            _gate = gate;
            if (!_armed)
                return;
            switch (_mode)
            {
                case 0:
                case 4:
                    // The gate suspends counting; the count carries on where it stopped.
                    if (gate)
                        Resume(t);
                    else
                        Pause(t);
                    break;
                case 1:
                case 5:
                    // A rising gate (re)triggers the one-shot; a low gate does not stop it.
                    if (gate)
                        StartOneShot(_reload, t);
                    break;
                default:
                    // A low gate stops the rate generator with OUT high; a rising gate restarts the period.
                    if (gate)
                    {
                        _anchor = t;
                        _anchorValue = _reload;
                        _pendingReload = 0;
                        _running = true;
                    }
                    else
                    {
                        _heldCount = CountAt(t);
                        _running = false;
                    }
                    break;
            }
        }

        /// <summary>The counting element at tick <paramref name="t"/>, 0..modulus-1 (0 stands for the full count).</summary>
        public int CountAt(long t)
        {
            if (!_armed || _waitingTrigger)
                return _heldCount;
            if (IsPeriodic)
            {
                if (!_running)
                    return _heldCount;
                Sync(t);
                long phase = t - _anchor;
                int n = _anchorValue;
                if (_mode == 3)
                {
                    // Square wave: the count falls by two per tick, twice a period (high half first).
                    int high = (n + 1) / 2;
                    phase = phase < high ? phase : phase - high;
                    return (int)((n - 2 * phase) % Modulus);
                }
                return (int)((n - phase) % Modulus);
            }
            long elapsed = _running ? t - _anchor : 0;
            long value = (_anchorValue - elapsed) % Modulus;
            return (int)(value < 0 ? value + Modulus : value);
        }

        public bool OutAt(long t)
        {
            if (!_armed)
                return _mode != 0; // a control word drives OUT low in mode 0, high in the others
            switch (_mode)
            {
                case 0:
                    return _tcPassed || (_running && t - _anchor >= _anchorValue);
                case 1:
                    return _waitingTrigger || _tcPassed || t - _anchor >= _anchorValue;
                case 4:
                case 5:
                    // Strobe: OUT goes low for one tick at terminal count.
                    return _waitingTrigger || _tcPassed || !_running || t - _anchor != _anchorValue;
                default:
                    if (!_running)
                        return true;
                    Sync(t);
                    long phase = t - _anchor;
                    return _mode == 2 ? phase != _anchorValue - 1 : phase < (_anchorValue + 1) / 2;
            }
        }

        /// <summary>The first tick after <paramref name="t"/> at which OUT rises, or <see cref="long.MaxValue"/>.</summary>
        public long NextRisingEdgeAfter(long t)
        {
            if (!_armed || !_running || _waitingTrigger)
                return long.MaxValue;
            if (IsPeriodic)
            {
                Sync(t);
                return _anchor + _anchorValue; // each period ends with OUT rising
            }
            if (_tcPassed)
                return long.MaxValue;
            long edge = _anchor + _anchorValue + (_mode >= 4 ? 1 : 0);
            return edge > t ? edge : long.MaxValue;
        }

        private void Load(int raw, long t)
        {
            int n = _bcd ? FromBcd(raw) : raw;
            if (n == 0)
                n = Modulus; // a count of 0 means the full 65536 (10000 in BCD)
            _reload = n;
            switch (_mode)
            {
                case 0:
                case 4:
                    _armed = true;
                    _tcPassed = false;
                    _anchor = t;
                    _anchorValue = n;
                    _running = _gate;
                    break;
                case 1:
                case 5:
                    // The count waits in the count register until the gate triggers.
                    if (!_armed)
                    {
                        _armed = true;
                        _waitingTrigger = true;
                    }
                    break;
                default:
                    if (_armed && _running)
                    {
                        _pendingReload = n; // a new count takes effect at the end of the current period
                    }
                    else
                    {
                        _armed = true;
                        _anchor = t;
                        _anchorValue = n;
                        _running = _gate;
                    }
                    break;
            }
        }

        private void StartOneShot(int n, long t)
        {
            _waitingTrigger = false;
            _tcPassed = false;
            _anchor = t;
            _anchorValue = n;
            _running = true;
        }

        private void Pause(long t)
        {
            if (!_running)
                return;
            long elapsed = t - _anchor;
            int count = CountAt(t);
            if (!_tcPassed && elapsed >= _anchorValue)
                _tcPassed = true;
            _anchorValue = _tcPassed ? count : (int)(_anchorValue - elapsed);
            _anchor = t;
            _running = false;
        }

        private void Resume(long t)
        {
            _anchor = t;
            _running = true;
        }

        /// <summary>Moves a running periodic counter's period start up to <paramref name="t"/>, taking a pending count on the way.</summary>
        private void Sync(long t)
        {
            if (!_running || t - _anchor < _anchorValue)
                return;
            if (_pendingReload != 0)
            {
                _anchor += _anchorValue;
                _anchorValue = _pendingReload;
                _pendingReload = 0;
                if (t - _anchor < _anchorValue)
                    return;
            }
            _anchor += (t - _anchor) / _anchorValue * _anchorValue;
        }

        private int ToRegister(int count) => _bcd ? ToBcd(count) : count;

        private static int FromBcd(int raw) =>
            (raw >> 12 & 0xF) * 1000 + (raw >> 8 & 0xF) * 100 + (raw >> 4 & 0xF) * 10 + (raw & 0xF);

        private static int ToBcd(int value) =>
            value / 1000 % 10 << 12 | value / 100 % 10 << 8 | value / 10 % 10 << 4 | value % 10;
    }
}

namespace MiniHv.Hv.Devices.Apic;

/// <summary>The local APIC timer's counter, running on virtual time: initial count, current count, divider and one-shot or periodic reload.</summary>
/// <remarks>
/// The bus clock has ticked floor(instructions * busHz / instructionsPerSecond) times, and the counter
/// falls by one every <see cref="Divisor"/> bus ticks. As in <see cref="Pit8254"/>, the counter is not
/// stepped: it keeps the bus tick at which it last held a known count and derives the rest. Changing the
/// divisor or the mode restarts the divider from the count reached, so the partial divider period is lost.
/// </remarks>
internal sealed class ApicTimer
{
    private readonly long _instructionsPerSecond;
    private readonly long _busHz;

    private long _instructions;
    private long _busTick;
    private bool _running;
    private bool _periodic;
    private long _anchorTick;   // bus tick at which the counter held _anchorCount
    private long _anchorCount;  // 1..2^32-1: timer ticks from _anchorTick to the next reload or terminal count

    public ApicTimer(long instructionsPerSecond, long busHz)
    {
        _instructionsPerSecond = instructionsPerSecond;
        _busHz = busHz;
    }

    public long Instructions => _instructions;

    public long BusTicks => _busTick;

    public uint InitialCount { get; private set; }

    /// <summary>Bus ticks per timer tick: 1, 2, 4, ... 128.</summary>
    public int Divisor { get; private set; } = 2;

    /// <summary>True while the counter counts: from a non-zero initial count until a one-shot count reaches 0.</summary>
    public bool IsRunning => _running;

    public uint CurrentCount
    {
        get
        {
            if (!_running)
                return 0;
            long elapsed = (_busTick - _anchorTick) / Divisor;
            if (elapsed < _anchorCount)
                return (uint)(_anchorCount - elapsed);
            if (!_periodic)
                return 0;
            // Each terminal count reloads the initial count at once, so 0 is never seen in periodic mode.
            return (uint)(InitialCount - (elapsed - _anchorCount) % InitialCount);
        }
    }

    /// <summary>A write of the initial count register: starts counting down from it, or stops the timer for 0.</summary>
    public void Start(uint initialCount)
    {
        InitialCount = initialCount;
        _running = initialCount != 0;
        _anchorTick = _busTick;
        _anchorCount = initialCount;
    }

    public void SetDivisor(int divisor)
    {
        if (divisor == Divisor)
            return;
        Reanchor();
        Divisor = divisor;
    }

    public void SetPeriodic(bool periodic)
    {
        if (periodic == _periodic)
            return;
        Reanchor();
        _periodic = periodic;
    }

    /// <summary>Moves virtual time on; true when the count reached 0 at least once in that span (several periods coalesce).</summary>
    public bool Advance(long instructions)
    {
        long before = _busTick;
        _instructions = instructions > long.MaxValue - _instructions ? long.MaxValue : _instructions + instructions;
        _busTick = (long)((Int128)_instructions * _busHz / _instructionsPerSecond);
        if (NextExpiryAfter(before) > _busTick)
            return false;
        if (!_periodic)
            _running = false;
        return true;
    }

    /// <summary>Instructions until the count next reaches 0 (at least 1), or <see cref="long.MaxValue"/> when it will not.</summary>
    public long InstructionsUntilNextExpiry()
    {
        long tick = NextExpiryAfter(_busTick);
        if (tick == long.MaxValue)
            return long.MaxValue;
        // The first instruction count whose bus tick reaches the expiry: ceil(tick * rate / busHz).
        Int128 at = ((Int128)tick * _instructionsPerSecond + _busHz - 1) / _busHz;
        Int128 wait = at - _instructions;
        return wait > long.MaxValue ? long.MaxValue : (long)Int128.Max(wait, 1);
    }

    /// <summary>The first bus tick after <paramref name="tick"/> at which the count reaches 0, or <see cref="long.MaxValue"/>.</summary>
    private long NextExpiryAfter(long tick)
    {
        if (!_running)
            return long.MaxValue;
        long elapsed = (tick - _anchorTick) / Divisor;
        long at;
        if (elapsed < _anchorCount)
            at = _anchorCount;
        else if (_periodic)
            at = _anchorCount + ((elapsed - _anchorCount) / InitialCount + 1) * InitialCount;
        else
            return long.MaxValue;
        return _anchorTick + at * Divisor;
    }

    private void Reanchor()
    {
        if (!_running)
            return;
        _anchorCount = CurrentCount;
        _anchorTick = _busTick;
    }
}

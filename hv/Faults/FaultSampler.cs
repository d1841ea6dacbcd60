namespace MiniHv.Hv.Faults;

/// <summary>Applies one <see cref="FaultSampling"/> rule to a stream of events of one kind. Not thread-safe.</summary>
internal sealed class FaultSampler
{
    private readonly FaultSampling _rule;
    private readonly TimeProvider _time;
    private long _seen;
    private long _windowStart;
    private int _inWindow;

    public FaultSampler(FaultSampling rule, TimeProvider time)
    {
        _rule = rule;
        _time = time;
    }

    /// <summary>Count one event; true when the rule says to log it.</summary>
    public bool Admit()
    {
        long index = _seen++;
        switch (_rule.Mode)
        {
            case FaultSamplingMode.All:
                return true;
            case FaultSamplingMode.EveryNth:
                return index % _rule.N == 0;
            case FaultSamplingMode.PerSecond:
                // Fixed one-second windows: cheap, and a burst can never exceed N in any window.
                long now = _time.GetTimestamp();
                if (index == 0 || now - _windowStart >= _time.TimestampFrequency)
                {
                    _windowStart = now;
                    _inWindow = 0;
                }

                if (_inWindow >= _rule.N)
                    return false;
                _inWindow++;
                return true;
            default:
                return false;
        }
    }
}

using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Overcommit;

/// <summary>
/// Estimates how much of a guest's memory it is using, for the idle-memory tax of <see cref="BalloonPolicy"/>:
/// statistical sampling as in ESX (Waldspurger, OSDI 2002, section 5.3). At the start of each period a random
/// sample of the guest's frames (those on a machine frame of their own) has its accessed bits cleared; at the
/// end, the part of the sample used since is the period's active fraction. The estimate is the larger of a fast
/// and a slow moving average, so that a guest that starts using its memory is seen at once and one that stops
/// is believed only slowly.
/// </summary>
/// <remarks>
/// The accessed bits are the shadow MMU's, the same ones <see cref="ClockReclaimer"/> reads: clearing a sampled
/// frame's bit only makes the clock judge it on the period's use. Periods run on the guest's own instruction
/// count and the sample comes from a generator seeded per guest, so a deterministic run samples the same
/// frames every time. Only on the guest's own thread between its quanta.
/// </remarks>
public sealed class IdleMemorySampler
{
    /// <summary>Frames in each sample (ESX's default).</summary>
    public const int SampleSize = 100;

    private readonly GuestPhysicalMemory _memory;
    private readonly IAccessedBits? _accessed;
    private readonly long _period;
    private readonly Random _random;
    private readonly List<uint> _sample = new(SampleSize);
    private long _periodEnd;
    private double _fast = 1;
    private double _slow = 1;

    /// <param name="memory">The guest's memory.</param>
    /// <param name="accessed">Its accessed bits, or null when there are none (every frame then counts as active: no tax).</param>
    /// <param name="periodInstructions">The guest instructions a sample period lasts.</param>
    /// <param name="seed">The sample generator's seed (the guest's id).</param>
    public IdleMemorySampler(GuestPhysicalMemory memory, IAccessedBits? accessed, long periodInstructions, int seed)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfLessThan(periodInstructions, 1);
        _memory = memory;
        _accessed = accessed;
        _period = periodInstructions;
        _random = new Random(seed);
    }

    /// <summary>The active part of the guest's frames, 0 to 1; 1 until a period has been measured.</summary>
    public double ActiveFraction => Volatile.Read(ref _fast) > Volatile.Read(ref _slow) ? Volatile.Read(ref _fast) : Volatile.Read(ref _slow);

    /// <summary>Periods measured.</summary>
    public long Periods { get; private set; }

    /// <summary>At a safepoint of the guest, <paramref name="instructions"/> executed: ends a period that is over and starts the next.</summary>
    public void AtSafepoint(long instructions)
    {
        if (_accessed == null || instructions < _periodEnd)
            return;
        if (_sample.Count > 0)
        {
            int used = 0, still = 0;
            foreach (uint gfn in _sample)
            {
                if (!OnOwnFrame(gfn))
                    continue; // swapped, ballooned or freed meanwhile: says nothing of use
                still++;
                if (_accessed.HarvestAccessed(gfn))
                    used++;
            }

            if (still > 0)
            {
                double f = (double)used / still;
                Volatile.Write(ref _fast, _fast + 0.5 * (f - _fast));
                Volatile.Write(ref _slow, _slow + 0.1 * (f - _slow));
                Periods++;
            }
        }

        Choose();
        _periodEnd = instructions + _period;
    }

    private void Choose()
    {
        _sample.Clear();
        uint count = _memory.FrameCount;
        if (count == 0 || _memory.PrivateFrames == 0)
            return;
        for (int tries = 0; tries < 4 * SampleSize && _sample.Count < SampleSize; tries++)
        {
            uint gfn = (uint)_random.Next((int)count);
            if (!OnOwnFrame(gfn) || _sample.Contains(gfn))
                continue;
            _accessed!.HarvestAccessed(gfn); // the period starts with its bit clear
            _sample.Add(gfn);
        }
    }

    private bool OnOwnFrame(uint gfn) => _memory.P2m.IsWritable(gfn);
}

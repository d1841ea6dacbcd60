namespace MiniHv.Hv.Sharing;

/// <summary>
/// How fast the scanner goes, in frames per second (of host time beside running guests, of virtual time when
/// deterministic), as ksmd's pages_to_scan per sleep_millisecs. The <c>auto</c> rate doubles after a full
/// scan that found merges and halves after one that found none, within <see cref="MinAutoRate"/> and
/// <see cref="MaxAutoRate"/>: fast while there is something to share, nearly idle once it is shared.
/// </summary>
public sealed class ScanPacer
{
    public const long MinAutoRate = 20_000;
    public const long MaxAutoRate = 64_000_000;

    private long _rate;

    /// <param name="rate">The fixed rate, or with <paramref name="auto"/> the rate to start from.</param>
    public ScanPacer(long rate, bool auto = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rate, 1);
        Auto = auto;
        _rate = auto ? Math.Clamp(rate, MinAutoRate, MaxAutoRate) : rate;
    }

    public bool Auto { get; }

    /// <summary>Frames per second now.</summary>
    public long Rate => Interlocked.Read(ref _rate);

    /// <summary>The lowest and highest rates an auto pacer reached.</summary>
    public (long Min, long Max) Range { get; private set; }

    /// <summary>A full scan ended having found <paramref name="finds"/> merges: an auto rate follows.</summary>
    public void FullScanEnded(long finds)
    {
        if (!Auto)
            return;
        long next = finds > 0 ? Math.Min(Rate * 2, MaxAutoRate) : Math.Max(Rate / 2, MinAutoRate);
        Interlocked.Exchange(ref _rate, next);
        Range = Range == default ? (next, next) : (Math.Min(Range.Min, next), Math.Max(Range.Max, next));
    }
}

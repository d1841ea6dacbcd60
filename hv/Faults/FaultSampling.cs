using System.Globalization;

namespace MiniHv.Hv.Faults;

/// <summary>How a sampling rule picks events to log.</summary>
public enum FaultSamplingMode
{
    /// <summary>Log none (they are still counted).</summary>
    None,

    /// <summary>Log every one.</summary>
    All,

    /// <summary>Log the first, then one in every N.</summary>
    EveryNth,

    /// <summary>Log at most N in each second of host time.</summary>
    PerSecond,
}

/// <summary>
/// Which events of one kind a guest's fault log writes; every event is counted whatever this says. Written on
/// command lines as <c>none</c>, <c>all</c>, <c>every:N</c> or <c>N/s</c>.
/// </summary>
public readonly record struct FaultSampling
{
    private FaultSampling(FaultSamplingMode mode, int n)
    {
        Mode = mode;
        N = n;
    }

    public FaultSamplingMode Mode { get; }

    /// <summary>The N of <see cref="FaultSamplingMode.EveryNth"/> and <see cref="FaultSamplingMode.PerSecond"/>; 0 otherwise.</summary>
    public int N { get; }

    public static FaultSampling None => new(FaultSamplingMode.None, 0);

    public static FaultSampling All => new(FaultSamplingMode.All, 0);

    /// <summary>The 1st, (n+1)-th, (2n+1)-th... event; every one when n is 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1.</exception>
    public static FaultSampling EveryNth(int n)
        => n >= 1 ? new(FaultSamplingMode.EveryNth, n) : throw new ArgumentOutOfRangeException(nameof(n), n, "N must be at least 1");

    /// <summary>At most <paramref name="n"/> events in each one-second window of host time.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1.</exception>
    public static FaultSampling PerSecond(int n)
        => n >= 1 ? new(FaultSamplingMode.PerSecond, n) : throw new ArgumentOutOfRangeException(nameof(n), n, "N must be at least 1");

    /// <summary>Parse <c>none</c>, <c>all</c>, <c>every:N</c> or <c>N/s</c> (N from 1); false on anything else.</summary>
    public static bool TryParse(string? text, out FaultSampling sampling)
    {
        sampling = None;
        string t = (text ?? "").Trim().ToLowerInvariant();
        if (t == "none")
            return true;
        if (t == "all")
        {
            sampling = All;
            return true;
        }

        if (t.StartsWith("every:", StringComparison.Ordinal) && PositiveInt(t["every:".Length..], out int every))
        {
            sampling = EveryNth(every);
            return true;
        }

        if (t.EndsWith("/s", StringComparison.Ordinal) && PositiveInt(t[..^2], out int rate))
        {
            sampling = PerSecond(rate);
            return true;
        }

        return false;
    }

    /// <summary>The command-line spelling, which <see cref="TryParse"/> reads back.</summary>
    public override string ToString() => Mode switch
    {
        FaultSamplingMode.All => "all",
        FaultSamplingMode.EveryNth => $"every:{N}",
        FaultSamplingMode.PerSecond => $"{N}/s",
        _ => "none",
    };

    private static bool PositiveInt(string s, out int n)
        => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n) && n >= 1;
}

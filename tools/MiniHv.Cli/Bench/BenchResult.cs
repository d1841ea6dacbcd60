namespace MiniHv.Cli.Bench;

/// <summary>One benchmark row: a rate in millions of guest instructions per second, and what it is compared with.</summary>
/// <param name="Runs">The rate of every timed run, in the order run.</param>
/// <param name="Baseline">The name of the row this one is compared with in the same run, or null.</param>
/// <param name="Paired">
/// A baseline measured beside each run instead of once: its rate in the run just before each of <paramref name="Runs"/>,
/// one for one. The row's ratio is then the median of the per-pair ratios, so both sides of each ratio met the same
/// load. Its name is <paramref name="Baseline"/>.
/// </param>
internal sealed record BenchResult(string Name, string Unit, IReadOnlyList<double> Runs, string? Baseline = null, string? Note = null,
    IReadOnlyList<double>? Paired = null)
{
    /// <summary>The median of the runs: robust against a noisy neighbour on a shared machine.</summary>
    public double Median => MedianOf(Runs);

    public double Min => Runs.Min();

    public double Max => Runs.Max();

    /// <summary>The median over the pairs of a run's rate over its paired baseline's, or null when the row has no paired baseline.</summary>
    public double? PairedRatio => Paired == null ? null : MedianOf(Runs.Zip(Paired, (run, baseline) => run / baseline).ToList());

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    public static double MedianOf(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }
}

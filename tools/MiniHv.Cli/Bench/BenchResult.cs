namespace MiniHv.Cli.Bench;

/// <summary>One benchmark row: a rate in millions of guest instructions per second, and what it is compared with.</summary>
/// <param name="Runs">The rate of every timed run, in the order run.</param>
/// <param name="Baseline">The name of the row this one is compared with in the same run, or null.</param>
internal sealed record BenchResult(string Name, string Unit, IReadOnlyList<double> Runs, string? Baseline = null, string? Note = null)
{
    /// <summary>The median of the runs: robust against a noisy neighbour on a shared machine.</summary>
    public double Median
    {
        get
        {
            var sorted = Runs.Order().ToArray();
            int n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        }
    }

    public double Min => Runs.Min();

    public double Max => Runs.Max();
}

using System.Globalization;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Benchmark results as one plain-text table, each row with its ratio to its baseline: the baseline row's median, or,
/// for a row with a baseline measured beside each of its runs, the median of the per-pair ratios.
/// </summary>
internal static class BenchTable
{
    public static void Write(TextWriter output, IReadOnlyList<BenchResult> results, string machine)
    {
        output.WriteLine($"minihv bench on {machine}; median of {results.Max(r => r.Runs.Count)} runs");
        output.WriteLine();
        string[] header = ["benchmark", "median", "min", "max", "unit", "vs baseline", "note"];
        var rows = new List<string[]> { header };
        foreach (BenchResult r in results)
        {
            string ratio = "";
            if (r.PairedRatio is double paired)
                ratio = string.Create(CultureInfo.InvariantCulture, $"{paired:0.00}x {Short(r.Baseline!)}");
            else if (r.Baseline != null && results.FirstOrDefault(b => b.Name == r.Baseline) is { } baseline && baseline.Median > 0)
                ratio = string.Create(CultureInfo.InvariantCulture, $"{r.Median / baseline.Median:0.00}x {Short(baseline.Name)}");
            rows.Add([r.Name, F(r.Median, r.Unit), F(r.Min, r.Unit), F(r.Max, r.Unit), r.Unit, ratio, r.Note ?? ""]);
        }

        int[] widths = Enumerable.Range(0, header.Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (string[] row in rows)
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c is >= 1 and <= 3 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
    }

    private static string Short(string name) => name.StartsWith("baseline: ", StringComparison.Ordinal) ? name["baseline: ".Length..] : name;

    // Ratios and seconds keep two decimals; rates in the hundreds need none.
    private static string F(double v, string unit)
        => v.ToString(unit is "x" or "s" ? "0.00" : v >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture);
}

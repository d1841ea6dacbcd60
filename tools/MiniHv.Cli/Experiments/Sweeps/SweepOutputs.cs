namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>
/// A whole sweep's outputs from its point records, in the config's order: the same code whether the records come
/// from one run or from shards merged, so a merge writes exactly what a single run would have.
/// </summary>
internal static class SweepOutputs
{
    /// <summary>The points of the sweep that have no record.</summary>
    public static List<SweepPointInfo> Missing(ISweep sweep, IReadOnlyDictionary<string, PointRecord> records)
        => sweep.Points.Where(p => !records.ContainsKey(p.Id)).ToList();

    /// <summary>Writes the outputs into <paramref name="dir"/> (every point must have a record) and returns the failed points, which the outputs list too.</summary>
    public static List<PointFailure> Write(ISweep sweep, IReadOnlyDictionary<string, PointRecord> records, string dir)
    {
        var results = new List<string>();
        var failures = new List<PointFailure>();
        foreach (SweepPointInfo p in sweep.Points)
        {
            PointRecord r = records[p.Id];
            if (r.Failed)
                failures.Add(new PointFailure(p.Id, p.Parameters, r.Error!));
            else
                results.Add(r.Result!);
        }

        sweep.WriteOutputs(dir, results, failures, $"{sweep.Command} --out {dir}");
        return failures;
    }

    /// <summary>"ID, ID, ..." for messages, at most <paramref name="most"/> of them named.</summary>
    public static string Ids(IReadOnlyList<string> ids, int most = 20)
        => string.Join(", ", ids.Take(most)) + (ids.Count > most ? $" and {ids.Count - most} more" : "");
}

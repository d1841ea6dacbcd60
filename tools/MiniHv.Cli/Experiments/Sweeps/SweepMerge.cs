namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>
/// Puts the results directories of a sweep's shards (run anywhere, copied anywhere) back together: they must all be
/// of one sweep (the same sweep id); a point several hold is taken once, a finished record before a failed one.
/// </summary>
internal static class SweepMerge
{
    /// <summary>The sweep, rebuilt from the shards' config, and every point record they hold.</summary>
    /// <param name="build">Builds a sweep from a manifest's experiment and config.</param>
    /// <exception cref="FormatException">A directory is not a results directory, or the shards are of different sweeps.</exception>
    public static (ISweep Sweep, Dictionary<string, PointRecord> Records) Gather(IReadOnlyList<string> dirs, Func<SweepManifest, ISweep> build)
    {
        List<ResultStore> stores = dirs.Select(ResultStore.Read).ToList();
        ResultStore first = stores[0];
        foreach (ResultStore other in stores.Skip(1).Where(s => s.Manifest.SweepId != first.Manifest.SweepId))
        {
            throw new FormatException($"shards of different sweeps do not merge: {first.Dir} holds {first.Manifest.Describe()}, "
                + $"{other.Dir} holds {other.Manifest.Describe()}");
        }

        ISweep sweep = build(first.Manifest);
        if (sweep.Id != first.Manifest.SweepId)
        {
            throw new FormatException($"{first.Dir}: its config makes sweep {sweep.Id} for this minihv, but it was run as sweep {first.Manifest.SweepId}: "
                + "merge with the minihv that ran it");
        }

        var records = new Dictionary<string, PointRecord>();
        foreach (ResultStore store in stores)
        {
            foreach (var (id, record) in store.Load())
            {
                if (!records.TryGetValue(id, out PointRecord? held) || (held.Failed && !record.Failed))
                    records[id] = record;
            }
        }

        return (sweep, records);
    }
}

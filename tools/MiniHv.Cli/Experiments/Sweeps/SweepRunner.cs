using System.Diagnostics;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>What one run of part of a sweep did.</summary>
/// <param name="Selected">Points the run was given (the shard, the named points, or all).</param>
/// <param name="AlreadyDone">Of those, points the results directory held already, so skipped.</param>
/// <param name="Ran">Points run now.</param>
/// <param name="Failed">Of those run now, the ones that failed (recorded with their error).</param>
internal sealed record SweepRunSummary(int Selected, int AlreadyDone, int Ran, int Failed);

/// <summary>
/// Runs the selected points of a sweep that its results directory does not hold yet, several at once, recording
/// each in the directory the moment it ends, failures too (rerun only when asked: <paramref name="retryFailed"/>).
/// </summary>
internal static class SweepRunner
{
    public static SweepRunSummary Run(ISweep sweep, ResultStore store, IReadOnlyList<int> selected, bool retryFailed, int jobs,
        TextWriter? progress, CancellationToken cancel = default)
    {
        Dictionary<string, PointRecord> held = store.Load();
        var todo = selected.Where(i => !held.TryGetValue(sweep.Points[i].Id, out PointRecord? r) || (r.Failed && retryFailed)).ToList();
        int skipped = selected.Count - todo.Count;
        if (skipped > 0)
            progress?.WriteLine($"minihv: {skipped} of {selected.Count} points already in {store.Dir}; running the other {todo.Count}");

        int ran = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        var gate = new object();
        Parallel.ForEach(todo, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs), CancellationToken = cancel }, i =>
        {
            SweepPointInfo point = sweep.Points[i];
            var time = Stopwatch.StartNew();
            PointRecord record;
            try
            {
                record = new PointRecord(sweep.Id, point.Id, sweep.RunPoint(i), null);
            }
            catch (Exception e)
            {
                // Whatever went wrong, the point is recorded as failed, with why, and the sweep goes on.
                record = new PointRecord(sweep.Id, point.Id, null, e.Message);
            }

            store.Write(record);
            lock (gate)
            {
                int n = ++ran;
                string what = record.Failed ? $"FAILED: {record.Error!.Split('\n')[0]}" : sweep.Describe(record.Result!);
                if (record.Failed)
                    failed++;
                progress?.WriteLine($"minihv: [{n}/{todo.Count}] {point.Id}: {what} ({time.Elapsed.TotalSeconds:0.0} s, {clock.Elapsed.TotalSeconds:0} s in all)");
                progress?.Flush();
            }
        });
        return new SweepRunSummary(selected.Count, skipped, ran, failed);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace MiniHv.Cli.Experiments;

/// <summary>
/// The shared-object sharing experiment: every point of the config's sweeps (in parallel, each on its own
/// machine memory and deterministic), then the rows, the summary and the charts in the output directory.
/// </summary>
internal static class SharedObjectExperiment
{
    private const string KernelResourcePrefix = "MiniHv.Guests.shlib.";

    /// <summary>An experiment kernel (guests/build/shlib/jos-VARIANT-KIB.elf) embedded in minihv.</summary>
    public static byte[] EmbeddedKernel(string name)
    {
        using Stream? s = typeof(SharedObjectExperiment).Assembly.GetManifestResourceStream(KernelResourcePrefix + name)
            ?? throw new InvalidOperationException($"minihv was built without the experiment kernel '{name}' (make -C guests failed?)");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Runs every point in memory (the command runs them through <see cref="Sweeps.SweepRunner"/>); <paramref name="progress"/> hears of each as it ends. The rows come in the config's order.</summary>
    public static List<PointResult> Run(SharedObjectConfig config, int jobs, TextWriter? progress, CancellationToken cancel = default,
        Func<string, byte[]>? kernel = null)
    {
        kernel ??= CachedKernels();
        var results = new PointResult?[config.Points.Count];
        int done = 0;
        var clock = Stopwatch.StartNew();
        var errors = new ConcurrentQueue<Exception>();
        Parallel.ForEach(Enumerable.Range(0, config.Points.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs), CancellationToken = cancel },
            (i, state) =>
            {
                try
                {
                    PointResult r = PointRunner.Run(config.Points[i], config, kernel);
                    results[i] = r;
                    int n = Interlocked.Increment(ref done);
                    lock (results)
                    {
                        progress?.WriteLine($"minihv: [{n}/{config.Points.Count}] {PointRunner.Describe(r.Point)}: library {r.LibMachineFrames} machine frames, "
                            + $"all {r.MachineFrames}{(r.Settled ? "" : " (not settled)")} ({r.WallSeconds:0.0} s, {clock.Elapsed.TotalSeconds:0} s in all)");
                        progress?.Flush();
                    }
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                    state.Stop();
                }
            });
        if (!errors.IsEmpty)
            throw new AggregateException(errors);
        return results.Select(r => r!).ToList();
    }

    /// <summary>Writes results.csv, results.json, the charts and summary.md (which lists the failed points) into <paramref name="dir"/>.</summary>
    public static void WriteOutputs(string dir, IReadOnlyList<PointResult> rows, SharedObjectConfig config, string command,
        IReadOnlyList<Sweeps.PointFailure> failures)
    {
        Directory.CreateDirectory(dir);
        ResultWriter.WriteCsv(Path.Combine(dir, "results.csv"), rows);
        ResultWriter.WriteJson(Path.Combine(dir, "results.json"), rows);
        List<string> charts = Charts.Write(dir, rows);
        ResultWriter.WriteSummary(Path.Combine(dir, "summary.md"), rows, config, command, charts, failures);
    }

    private static Func<string, byte[]> CachedKernels()
    {
        var cache = new ConcurrentDictionary<string, byte[]>();
        return name => cache.GetOrAdd(name, EmbeddedKernel);
    }
}

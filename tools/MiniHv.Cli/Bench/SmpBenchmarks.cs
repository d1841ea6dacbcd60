namespace MiniHv.Cli.Bench;

/// <summary>
/// Multiprocessor guests: the same CPU-bound job (the multiprocessor guest's <c>parwork</c>, split across as many
/// environments as processors) on 1, 2 and 4 processors, each against one processor, and, where QEMU is installed,
/// QEMU's time for the same image and processors (<c>-smp N,sockets=N</c>), run in turn.
/// </summary>
internal static class SmpBenchmarks
{
    private const string OneProcessor = "parwork on 1 processor";

    public static IEnumerable<BenchResult> Run(int runs, bool quick, TextWriter log)
    {
        // 64 units of mixing dealt to the environments: enough for the split to matter, little enough for a bench.
        string iterations = quick ? "parwork.iters=20000" : "parwork.iters=200000";
        using QemuReference? qemu = QemuReference.TryCreate(EmbeddedGuests.JosSmp(), EmbeddedGuests.JosSmpName, out string? why);
        if (why != null)
            log.WriteLine($"minihv: bench smp: {why}");

        foreach (int processors in new[] { 1, 2, 4 })
        {
            string append = $"prog=parwork parwork.envs={processors} {iterations}";
            BenchGuest.Time(append, processors: processors, multiprocessorImage: true); // warm up
            var seconds = new List<double>();
            var ratios = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                var (_, elapsed) = BenchGuest.Time(append, processors: processors, multiprocessorImage: true);
                seconds.Add(elapsed.TotalSeconds);
                if (qemu != null)
                    ratios.Add(elapsed.TotalSeconds / qemu.Time(append, processors).TotalSeconds);
            }

            string name = processors == 1 ? OneProcessor : $"parwork on {processors} processors";
            yield return new BenchResult(name, "s", seconds, Baseline: processors == 1 ? null : OneProcessor,
                Note: processors == 1 ? append : $"{append}; against 1 processor: below 1 is a speed-up (each processor on a host thread of its own)");
            if (qemu != null)
                yield return new BenchResult($"{name}: MiniHv time / QEMU time", "x", ratios,
                    Note: "MiniHv's run (boot included) over QEMU's whole process (MTTCG), run in turn");
        }
    }
}

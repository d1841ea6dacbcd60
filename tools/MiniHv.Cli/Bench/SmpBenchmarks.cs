using System.Globalization;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Multiprocessor guests, on the multiprocessor JOS-style guest: the same CPU-bound job (<c>parwork</c>, split across
/// as many environments as processors) on 1, 2 and 4 processors, timed as a whole run and as its parallel part (the
/// host time between two lines the program prints around its work), each against one processor; and the cost of a
/// spinlock handoff between two processors (<c>handoff</c>), on threads and in turns. Where QEMU is installed, the
/// same image with the same processors (<c>-smp N,sockets=N</c>) is timed the same way, run in turn.
/// </summary>
internal static class SmpBenchmarks
{
    private const string Whole = "whole run";
    private const string Parallel = "parallel part";

    public static IEnumerable<BenchResult> Run(int runs, bool quick, TextWriter log)
    {
        using QemuReference? qemu = QemuReference.TryCreate(EmbeddedGuests.JosSmp(), EmbeddedGuests.JosSmpName, out string? why);
        if (why != null)
            log.WriteLine($"minihv: bench smp: {why}");
        foreach (BenchResult r in Parwork(runs, quick, qemu))
            yield return r;
        foreach (BenchResult r in Handoff(runs, quick, qemu))
            yield return r;
    }

    private static string ParworkName(int processors, string part)
        => processors == 1 ? $"parwork on 1 processor, {part}" : $"parwork on {processors} processors, {part}";

    // The program's own work: from its first line (printed before it forks) to its checksum (printed once every child has sent its sum and ended).
    private static SerialMarks ParworkMarks() => new("parwork: ", "parwork: checksum");

    private static IEnumerable<BenchResult> Parwork(int runs, bool quick, QemuReference? qemu)
    {
        // 64 units of mixing dealt to the environments: enough for the split to matter, little enough for a bench.
        string iterations = quick ? "parwork.iters=20000" : "parwork.iters=200000";
        foreach (int processors in new[] { 1, 2, 4 })
        {
            string append = $"prog=parwork parwork.envs={processors} {iterations}";
            BenchGuest.Time(append, processors: processors, multiprocessorImage: true); // warm up
            var whole = new List<double>();
            var part = new List<double>();
            var qemuWhole = new List<double>();
            var qemuPart = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                SerialMarks marks = ParworkMarks();
                var (_, elapsed) = BenchGuest.Time(append, processors: processors, multiprocessorImage: true, marks: marks);
                whole.Add(elapsed.TotalSeconds);
                part.Add(marks.Between.TotalSeconds);
                if (qemu != null)
                {
                    SerialMarks q = ParworkMarks();
                    qemuWhole.Add(elapsed.TotalSeconds / qemu.Time(append, processors, q).TotalSeconds);
                    qemuPart.Add(marks.Between.TotalSeconds / q.Between.TotalSeconds);
                }
            }

            string threads = processors == 1 ? "" : "; against 1 processor, below 1 is a speed-up";
            yield return new BenchResult(ParworkName(processors, Whole), "s", whole, Baseline: processors == 1 ? null : ParworkName(1, Whole),
                Note: $"{append}: the guest's whole run, boot and end included{threads}");
            yield return new BenchResult(ParworkName(processors, Parallel), "s", part, Baseline: processors == 1 ? null : ParworkName(1, Parallel),
                Note: $"host time from parwork's first line (before it forks) to its checksum line (every child done){threads}");
            if (qemu != null)
            {
                yield return new BenchResult($"{ParworkName(processors, Whole)}: MiniHv time / QEMU time", "x", qemuWhole,
                    Note: "MiniHv's run (boot included) over QEMU's whole process (MTTCG), run in turn");
                yield return new BenchResult($"{ParworkName(processors, Parallel)}: MiniHv time / QEMU time", "x", qemuPart,
                    Note: "the same two lines, QEMU's read from its serial port on stdout");
            }
        }
    }

    private const string HandoffThreads = "spinlock handoff, 2 processors on threads";
    private const string HandoffTurns = "spinlock handoff, 2 processors in turns";
    private const string HandoffQemu = "spinlock handoff, 2 processors on QEMU";

    private static SerialMarks HandoffMarks() => new("handoff: turns start", "handoff: turns done");

    // The host time of one handoff: the time between the lines over the number of turns of both sides, the count checked.
    private static double NanosecondsPerHandoff(SerialMarks marks, int turns)
    {
        if (marks.EndLine == null || !marks.EndLine.EndsWith("exact", StringComparison.Ordinal))
            throw new InvalidOperationException($"the handoff guest's count is wrong: {marks.EndLine}");
        return marks.Between.TotalSeconds * 1e9 / (2.0 * turns);
    }

    private static IEnumerable<BenchResult> Handoff(int runs, bool quick, QemuReference? qemu)
    {
        int turns = quick ? 5_000 : 50_000;
        string append = string.Create(CultureInfo.InvariantCulture, $"prog=handoff handoff.turns={turns}");
        var threaded = new List<double>();
        var inTurns = new List<double>();
        var onQemu = new List<double>();
        BenchGuest.Time(append, processors: 2, processorThreads: true); // warm up
        for (int r = 0; r < runs; r++)
        {
            SerialMarks marks = HandoffMarks();
            BenchGuest.Time(append, processors: 2, processorThreads: true, marks: marks);
            threaded.Add(NanosecondsPerHandoff(marks, turns));
            marks = HandoffMarks();
            BenchGuest.Time(append, processors: 2, processorThreads: false, marks: marks);
            inTurns.Add(NanosecondsPerHandoff(marks, turns));
            if (qemu != null)
            {
                marks = HandoffMarks();
                qemu.Time(append, 2, marks);
                onQemu.Add(NanosecondsPerHandoff(marks, turns));
            }
        }

        string what = $"{append}: two environments pass an XCHG spinlock back and forth through a shared page; host time of the {2 * turns} turns over their number";
        yield return new BenchResult(HandoffThreads, "ns", threaded, Baseline: qemu != null ? HandoffQemu : null,
            Note: $"{what}; each processor on a host thread of its own, whatever the host's cores");
        yield return new BenchResult(HandoffTurns, "ns", inTurns, Baseline: HandoffThreads,
            Note: "the same, the processors taking turns of 1,000 instructions on one thread (the waiter gives its turn away after 16 PAUSEs)");
        if (qemu != null)
            yield return new BenchResult(HandoffQemu, "ns", onQemu, Note: "the same lines read from QEMU's serial port (MTTCG: each CPU on a thread)");
    }
}

using System.Diagnostics;
using System.Globalization;
using MiniHv.Cpu;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Where kernels spend their time: address-space switches, IPC, system calls, page faults, copy-on-write fork
/// and a pipeline of many environments, each a program of the JOS-style guest run to its end. Each reports
/// MiniHv's MIPS against the ALU loop's (the core's speed on code that never enters the kernel) and, where
/// QEMU is installed, MiniHv's wall time over QEMU's for the same image and command line, the two run in turn.
/// </summary>
/// <remarks>
/// On a shared host the ALU loop's speed moves by 2x within minutes, so a row is not compared with one ALU figure taken at
/// the start: each of its runs follows a run of the ALU loop, and its ratio is the median of the per-pair ratios. The
/// same pairs are also given over the guest thread's CPU time, which leaves out the time either waited for a core. The
/// ALU row at the top, measured once, keeps its wall-time MIPS for reference.
/// </remarks>
internal static class SystemBenchmarks
{
    public const string AluName = "baseline: alu loop (in a VM)";

    /// <summary>What a row's ratio compares it with: the ALU loop run just before each of the row's runs.</summary>
    public const string AluBesideName = "alu loop beside it";

    /// <summary>The name of a row's MIPS over the guest thread's CPU time rather than wall time.</summary>
    public static string CpuTime(string name) => $"{name}, over thread CPU time";

    private sealed record Workload(string Name, string Append, string QuickAppend);

    private static readonly Workload[] Workloads =
    [
        new("yield ping-pong (CR3 switches)", "prog=yield yield.count=100000", "prog=yield yield.count=5000"),
        new("IPC ping-pong", "prog=pingpong pingpong.rounds=50000", "prog=pingpong pingpong.rounds=2000"),
        new("syscall loop (sys_getenvid)", "prog=syscalls syscalls.count=500000", "prog=syscalls syscalls.count=20000"),
        new("page-fault storm (lazyalloc)", "prog=lazyalloc lazyalloc.pages=4096", "prog=lazyalloc lazyalloc.pages=512"),
        new("fork storm (forktree)", "prog=forktree forktree.depth=6", "prog=forktree forktree.depth=4"),
        new("primes pipeline", "prog=primes primes.n=288", "prog=primes primes.n=40"),
    ];

    public static IEnumerable<BenchResult> Run(int runs, bool quick, TextWriter log)
    {
        yield return CpuBenchmarks.AluLoop(AluName, runs, quick);
        yield return CpuBenchmarks.Cr3Switch("CR3 switch between two cached spaces", runs, quick);
        using QemuReference? qemu = QemuReference.TryCreate(out string? why);
        if (why != null)
            log.WriteLine($"minihv: bench system: {why}");
        if (qemu != null)
        {
            var startup = Enumerable.Range(0, runs).Select(_ => qemu.Time("prog=hello").TotalSeconds).ToList();
            yield return new BenchResult("QEMU: boot and hello", "s", startup,
                Note: "QEMU's own start, its BIOS and the kernel's boot, in every QEMU time below");
        }

        using var alu = new PagedLoopWorkload(PagedLoopWorkload.Kind.Alu, MiniHv.Cpu.CpuTier.Interp);
        long aluInstructions = quick ? 4_000_000 : 40_000_000;
        alu.Run(aluInstructions / 10); // warm up
        foreach (Workload w in Workloads)
        {
            string append = quick ? w.QuickAppend : w.Append;
            BenchGuest.Time(append); // warm up
            var mips = new List<double>();
            var cpuMips = new List<double>();
            var aluMips = new List<double>();
            var aluCpuMips = new List<double>();
            var ratios = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                // The ALU loop just before each run of the row, so that both sides of each ratio meet the same load.
                var (aluWall, aluCpu) = TimeAlu(alu, aluInstructions);
                aluMips.Add(aluWall);
                aluCpuMips.Add(aluCpu);
                BenchGuest.GuestRun run = BenchGuest.Measure(append);
                mips.Add(run.Instructions / run.Elapsed.TotalSeconds / 1e6);
                cpuMips.Add(run.Instructions / run.ThreadCpu.TotalSeconds / 1e6);
                if (qemu != null)
                    ratios.Add(run.Elapsed.TotalSeconds / qemu.Time(append).TotalSeconds);
            }

            yield return new BenchResult(w.Name, "MIPS", mips, Baseline: AluBesideName, Note: append, Paired: aluMips);
            yield return new BenchResult(CpuTime(w.Name), "MIPS", cpuMips, Baseline: CpuTime(AluBesideName), Paired: aluCpuMips,
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"the ALU loop beside it: {BenchResult.MedianOf(aluMips):0} MIPS over wall time, {BenchResult.MedianOf(aluCpuMips):0} over CPU time (medians)")
                    + (ThreadCpuClock.MeasuresCpuTime ? "" : "; no thread CPU clock here: wall time"));
            if (qemu != null)
                yield return new BenchResult($"{w.Name}: MiniHv time / QEMU time", "x", ratios,
                    Note: "MiniHv's run (boot included) over QEMU's whole process, run in turn");
        }
    }

    /// <summary>One timed run of the ALU loop: its MIPS over wall time and over the thread's CPU time.</summary>
    private static (double Wall, double Cpu) TimeAlu(PagedLoopWorkload alu, long instructions)
    {
        long before = alu.Cpu.InstructionsExecuted;
        TimeSpan cpuBefore = ThreadCpuClock.Now();
        var sw = Stopwatch.StartNew();
        alu.Run(instructions);
        sw.Stop();
        TimeSpan cpu = ThreadCpuClock.Now() - cpuBefore;
        long done = alu.Cpu.InstructionsExecuted - before;
        return (done / sw.Elapsed.TotalSeconds / 1e6, done / cpu.TotalSeconds / 1e6);
    }
}

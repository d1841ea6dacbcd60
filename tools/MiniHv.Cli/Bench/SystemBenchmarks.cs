namespace MiniHv.Cli.Bench;

/// <summary>
/// Where kernels spend their time: address-space switches, IPC, system calls, page faults, copy-on-write fork
/// and a pipeline of many environments, each a program of the JOS-style guest run to its end. Each reports
/// MiniHv's MIPS against the ALU loop's (the core's speed on code that never enters the kernel) and, where
/// QEMU is installed, MiniHv's wall time over QEMU's for the same image and command line, the two run in turn.
/// </summary>
internal static class SystemBenchmarks
{
    public const string AluName = "baseline: alu loop (in a VM)";

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

        foreach (Workload w in Workloads)
        {
            string append = quick ? w.QuickAppend : w.Append;
            BenchGuest.Time(append); // warm up
            var mips = new List<double>();
            var ratios = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                var (instructions, elapsed) = BenchGuest.Time(append);
                mips.Add(instructions / elapsed.TotalSeconds / 1e6);
                if (qemu != null)
                    ratios.Add(elapsed.TotalSeconds / qemu.Time(append).TotalSeconds);
            }

            yield return new BenchResult(w.Name, "MIPS", mips, Baseline: AluName, Note: append);
            if (qemu != null)
                yield return new BenchResult($"{w.Name}: MiniHv time / QEMU time", "x", ratios,
                    Note: "MiniHv's run (boot included) over QEMU's whole process, run in turn");
        }
    }
}

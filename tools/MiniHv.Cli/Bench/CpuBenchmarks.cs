using System.Diagnostics;
using Iced.Intel;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Cli.Bench;

/// <summary>
/// The CPU core's speed: the fixed loop in <see cref="CpuLoopWorkload"/>, a real guest (the embedded
/// JOS-style kernel running dedupwork), and as the baseline, Iced decoding the same loop's code: the
/// ceiling of an interpreter that decoded every instruction on every execution.
/// </summary>
internal static class CpuBenchmarks
{
    public const string LoopName = "cpu loop (paging on)";
    public const string X87LoopName = "x87 loop (paging on)";
    public const string DecodeName = "baseline: Iced decode of the loop";
    public const string GuestName = "jos dedupwork";
    public const string AluLoopName = "alu loop (in a VM)";
    public const string LoadLoopName = "memory-load loop";
    public const string LapicLoopName = "local APIC ID read loop";
    public const string KernelName = "cpu-bound kernel, time / QEMU's";
    public const string DemoName = "the demo (minihv with no command)";

    public static IEnumerable<BenchResult> Run(int runs, bool quick)
    {
        long loopInstructions = quick ? 20_000_000 : 200_000_000;
        yield return DecodeBaseline(runs, loopInstructions);
        foreach (var r in Loop(runs, loopInstructions))
            yield return r;
        yield return X87Loop(runs, loopInstructions / 4);
        foreach (var r in Guest(runs, quick ? 20 : 100))
            yield return r;
        foreach (var r in KernelAgainstQemu(runs, quick))
            yield return r;
        if (!quick)
        {
            foreach (var r in Demo(runs))
                yield return r;
        }
        long apicInstructions = quick ? 4_000_000 : 40_000_000;
        foreach (var r in ApicLoopBothTiers(PagedLoopWorkload.Kind.Alu, AluLoopName, runs, apicInstructions, LoopName, "4 instructions: add, xor, dec, jnz"))
            yield return r;
        foreach (var r in ApicLoopBothTiers(PagedLoopWorkload.Kind.MemoryLoad, LoadLoopName, runs, apicInstructions, AluLoopName, "a load from RAM in place of the add"))
            yield return r;
        yield return ApicLoop(PagedLoopWorkload.Kind.LapicIdRead, LapicLoopName, runs, apicInstructions, baseline: LoadLoopName,
            "the same load from 0xFEE00020; target: within 3x of the memory load (at least 0.33x)");
    }

    /// <summary>
    /// Two CR3 loads per iteration between two cached address spaces, with dec and jnz: the time of one switch,
    /// in nanoseconds (an iteration's time over two; the loop's two other instructions included).
    /// </summary>
    public static BenchResult Cr3Switch(string name, int runs, bool quick)
    {
        var ns = TimedRuns(PagedLoopWorkload.Kind.Cr3Switch, runs, quick ? 2_000_000 : 20_000_000,
            (instructions, elapsed) => elapsed.TotalNanoseconds / (instructions / 2));
        return new BenchResult(name, "ns", ns, Note: "a CR3 load to a cached space and the load back, half an iteration each; target under 100 ns");
    }

    /// <summary>The name of a workload's row under the block compiler (--cpu jit), compared with the interpreter's row.</summary>
    public static string Jit(string name) => $"{name}, jit";

    /// <summary>What the compiler did in a jit row: the share of instructions it ran and its cost per block (and, for a guest run, the share of its time).</summary>
    private static string JitNote(MiniHv.Cpu.JitStatistics s, TimeSpan? run = null)
        => $"--cpu jit: {s.CompiledShare:P0} of instructions compiled, {s.BlocksCompiled} blocks ({s.BlocksReused} more reused), median {s.MedianCompileMicroseconds:F0} us each"
            + (run is { } t ? $", compiling took the compile thread CPU time worth {s.CompileShareOf(t):P0} of the run's time" : "");

    /// <summary>
    /// The same loop interpreted and compiled, the timed runs alternating between the two so that a noisy neighbour
    /// on a shared machine hits both alike; the jit row is compared with the interpreter's.
    /// </summary>
    private static IEnumerable<BenchResult> ApicLoopBothTiers(PagedLoopWorkload.Kind kind, string name, int runs, long instructions, string? baseline, string note)
    {
        using var interp = new PagedLoopWorkload(kind, MiniHv.Cpu.CpuTier.Interp);
        using var jit = new PagedLoopWorkload(kind, MiniHv.Cpu.CpuTier.Jit);
        var (i, j) = Alternate(interp.Cpu, interp.Run, jit.Cpu, jit.Run, runs, instructions);
        yield return new BenchResult(name, "MIPS", i, Baseline: baseline, Note: note);
        yield return new BenchResult(Jit(name), "MIPS", j, Baseline: name, Note: JitNote(jit.Cpu.JitStats));
    }

    private static (List<double> Interp, List<double> Jit) Alternate(MiniHv.Cpu.Cpu a, Action<long> runA, MiniHv.Cpu.Cpu b, Action<long> runB,
        int runs, long instructions)
    {
        runA(instructions / 10); // warm up: decode the blocks, let the .NET JIT tier up, and (jit) compile the hot blocks
        runB(instructions / 10);
        var ra = new List<double>();
        var rb = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            ra.Add(Timed(a, runA, instructions));
            rb.Add(Timed(b, runB, instructions));
        }

        return (ra, rb);
    }

    private static double Timed(MiniHv.Cpu.Cpu cpu, Action<long> run, long instructions)
    {
        long before = cpu.InstructionsExecuted;
        var sw = Stopwatch.StartNew();
        run(instructions);
        return Mips(cpu.InstructionsExecuted - before, sw.Elapsed);
    }

    /// <summary>The four-instruction ALU loop in a whole VM with paging on, for suites that compare a workload with the core's plain speed.</summary>
    public static BenchResult AluLoop(string name, int runs, bool quick)
        => ApicLoop(PagedLoopWorkload.Kind.Alu, name, runs, quick ? 4_000_000 : 40_000_000, baseline: null, "4 instructions: add, xor, dec, jnz");

    private static BenchResult ApicLoop(PagedLoopWorkload.Kind kind, string name, int runs, long instructions, string? baseline, string note)
        => new(name, "MIPS", TimedRuns(kind, runs, instructions, Mips), Baseline: baseline, Note: note);

    /// <summary>A paged loop warmed up, then timed <paramref name="runs"/> times: <paramref name="rate"/> of each run's instructions and time.</summary>
    private static List<double> TimedRuns(PagedLoopWorkload.Kind kind, int runs, long instructions, Func<long, TimeSpan, double> rate)
    {
        using var w = new PagedLoopWorkload(kind, MiniHv.Cpu.CpuTier.Interp);
        w.Run(instructions / 10);
        var rates = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            long before = w.Cpu.InstructionsExecuted;
            var sw = Stopwatch.StartNew();
            w.Run(instructions);
            rates.Add(rate(w.Cpu.InstructionsExecuted - before, sw.Elapsed));
        }

        return rates;
    }

    private static IEnumerable<BenchResult> Loop(int runs, long instructions)
    {
        using var interp = new CpuLoopWorkload();
        using var jit = new CpuLoopWorkload();
        jit.Cpu.Tier = MiniHv.Cpu.CpuTier.Jit;
        var (i, j) = Alternate(interp.Cpu, interp.Run, jit.Cpu, jit.Run, runs, instructions);
        yield return new BenchResult(LoopName, "MIPS", i, Baseline: DecodeName);
        yield return new BenchResult(Jit(LoopName), "MIPS", j, Baseline: LoopName, Note: JitNote(jit.Cpu.JitStats));
    }

    /// <summary>The x87 loop beside the integer one: the software floatx80's cost per instruction.</summary>
    private static BenchResult X87Loop(int runs, long instructions)
    {
        using var w = new CpuLoopWorkload(x87: true);
        w.Run(instructions / 10);
        var rates = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            long before = w.Cpu.InstructionsExecuted;
            var sw = Stopwatch.StartNew();
            w.Run(instructions);
            rates.Add(Mips(w.Cpu.InstructionsExecuted - before, sw.Elapsed));
        }

        return new BenchResult(X87LoopName, "MIPS", rates, Baseline: LoopName,
            Note: "fld, fmul, fadd, fsqrt, fdiv, fcomi, fcmov, fstp over doubles: 12 of 13 instructions x87");
    }

    private static BenchResult DecodeBaseline(int runs, long instructions)
    {
        byte[] code = new CpuLoopWorkload().CodeBytes;
        var rates = new List<double>();
        for (int r = -1; r < runs; r++)
        {
            long decoded = 0;
            var sw = Stopwatch.StartNew();
            long target = r < 0 ? instructions / 10 : instructions / 4;
            var reader = new ByteArrayCodeReader(code);
            var decoder = Decoder.Create(32, reader, 0x100000, DecoderOptions.NoInvalidCheck);
            while (decoded < target)
            {
                reader.Position = 0;
                decoder.IP = 0x100000;
                while (reader.CanReadByte)
                {
                    decoder.Decode(out Instruction _);
                    decoded++;
                }
            }

            if (r >= 0)
                rates.Add(Mips(decoded, sw.Elapsed));
        }

        return new BenchResult(DecodeName, "MIPS", rates);
    }

    private static IEnumerable<BenchResult> Guest(int runs, int rounds)
    {
        var interp = new List<double>();
        var jit = new List<double>();
        MiniHv.Cpu.JitStatistics? stats = null;
        TimeSpan jitTime = default;
        for (int r = -1; r < runs; r++)
        {
            double a = BenchGuest.Mips($"prog=dedupwork dedup.rounds={rounds}");
            var (n, t) = BenchGuest.Time($"prog=dedupwork dedup.rounds={rounds}", tier: MiniHv.Cpu.CpuTier.Jit,
                inspect: vm => stats ??= vm.Cpu.JitStats); // the first run compiles; the later ones reuse its code
            if (r < 0)
                jitTime = t;
            if (r >= 0)
            {
                interp.Add(a); // the first run of each warms up
                jit.Add(n / t.TotalSeconds / 1e6);
            }
        }

        yield return new BenchResult(GuestName, "MIPS", interp, Baseline: LoopName, Note: $"boot + dedupwork, {rounds} rounds");
        yield return new BenchResult(Jit(GuestName), "MIPS", jit, Baseline: GuestName, Note: "first run: " + JitNote(stats!, jitTime));
    }

    /// <summary>
    /// A CPU-bound kernel against QEMU TCG, where QEMU is installed: dedupwork's verification passes (a load, a
    /// rotate, an xor, a compare and the loop per word, in user mode) for some billions of instructions, MiniHv's
    /// run of the guest over QEMU's whole process, each tier's run and QEMU's in turn.
    /// </summary>
    private static IEnumerable<BenchResult> KernelAgainstQemu(int runs, bool quick)
    {
        using QemuReference? qemu = QemuReference.TryCreate(out _);
        if (qemu == null)
            yield break; // bench system says why
        string append = quick ? "prog=dedupwork dedup.rounds=5 dedup.passes=10" : "prog=dedupwork dedup.rounds=10 dedup.passes=120";
        var interp = new List<double>();
        var jit = new List<double>();
        long instructions = 0;
        MiniHv.Cpu.JitStatistics? stats = null;
        TimeSpan jitTime = default;
        for (int r = 0; r < runs; r++)
        {
            var (n, a) = BenchGuest.Time(append);
            var (_, b) = BenchGuest.Time(append, tier: MiniHv.Cpu.CpuTier.Jit, inspect: vm => stats ??= vm.Cpu.JitStats);
            double q = qemu.Time(append).TotalSeconds;
            instructions = n;
            if (r == 0)
                jitTime = b;
            interp.Add(a.TotalSeconds / q);
            jit.Add(b.TotalSeconds / q);
        }

        yield return new BenchResult(KernelName, "x", interp, Note: $"{append}: {instructions / 1e9:F2} G instructions; QEMU's whole process");
        yield return new BenchResult(Jit(KernelName), "x", jit, Note: $"target: at most 3x; first run: {JitNote(stats!, jitTime)}");
    }

    /// <summary>
    /// The demo as <c>minihv</c> runs it (four guests, deterministic, sharing across them), under each tier in turn,
    /// in seconds; each jit run starts with no compiled code, as a fresh process does. Its note: what compiling
    /// cost the compile thread in CPU time, summed over the guests, as a share of the run's time.
    /// </summary>
    private static IEnumerable<BenchResult> Demo(int runs)
    {
        var interp = new List<double>();
        var jit = new List<double>();
        string note = "";
        for (int r = 0; r < runs; r++)
        {
            interp.Add(DemoRun(MiniHv.Cpu.CpuTier.Interp, out _).TotalSeconds);
            MiniHv.Cpu.Cpu.ForgetSharedCompiledCode();
            TimeSpan t = DemoRun(MiniHv.Cpu.CpuTier.Jit, out System.Text.Json.JsonDocument? stats);
            jit.Add(t.TotalSeconds);
            using (stats)
            {
                var guests = stats!.RootElement.GetProperty("guests").EnumerateArray().Select(g => g.GetProperty("jit")).ToList();
                double compile = guests.Sum(j => j.GetProperty("compile_seconds").GetDouble());
                note = $"--cpu jit: {guests.Sum(j => j.GetProperty("blocks_compiled").GetInt64())} blocks compiled "
                    + $"({guests.Sum(j => j.GetProperty("blocks_reused").GetInt64())} more reused), median "
                    + $"{guests[0].GetProperty("median_compile_microseconds").GetDouble():F0} us each, compiling took the compile thread CPU time worth {compile / t.TotalSeconds:P0} of the run's time";
            }
        }

        yield return new BenchResult(DemoName, "s", interp, Note: "four JOS-style guests: dedupwork, forktree, sharing all; the whole run");
        yield return new BenchResult(Jit(DemoName), "s", jit, Baseline: DemoName, Note: note);
    }

    private static TimeSpan DemoRun(MiniHv.Cpu.CpuTier tier, out System.Text.Json.JsonDocument? stats)
    {
        string path = Path.Combine(Path.GetTempPath(), $"minihv-bench-demo-{Environment.ProcessId}.json");
        var streams = new CliStreams(Stream.Null, null, TextWriter.Null, TextWriter.Null);
        var sw = Stopwatch.StartNew();
        int status = Running.GuestSession.Run(Commands.DemoCommand.Plan(tier) with { StatsPath = path }, streams, Serilog.Core.Logger.None, CancellationToken.None);
        sw.Stop();
        if (status != 1)
            throw new InvalidOperationException($"the demo ended with status {status}");
        stats = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        File.Delete(path);
        return sw.Elapsed;
    }

    private static double Mips(long instructions, TimeSpan elapsed) => instructions / elapsed.TotalSeconds / 1e6;
}

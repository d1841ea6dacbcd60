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

    public static IEnumerable<BenchResult> Run(int runs, bool quick)
    {
        long loopInstructions = quick ? 20_000_000 : 200_000_000;
        yield return DecodeBaseline(runs, loopInstructions);
        yield return Loop(runs, loopInstructions);
        yield return X87Loop(runs, loopInstructions / 4);
        yield return Guest(runs, quick ? 20 : 100);
        long apicInstructions = quick ? 4_000_000 : 40_000_000;
        yield return ApicLoop(ApicLoopWorkload.Kind.Alu, AluLoopName, runs, apicInstructions, baseline: LoopName, "4 instructions: add, xor, dec, jnz");
        yield return ApicLoop(ApicLoopWorkload.Kind.MemoryLoad, LoadLoopName, runs, apicInstructions, baseline: AluLoopName, "a load from RAM in place of the add");
        yield return ApicLoop(ApicLoopWorkload.Kind.LapicIdRead, LapicLoopName, runs, apicInstructions, baseline: LoadLoopName,
            "the same load from 0xFEE00020; target: within 3x of the memory load (at least 0.33x)");
    }

    /// <summary>The four-instruction ALU loop in a whole VM with paging on, for suites that compare a workload with the core's plain speed.</summary>
    public static BenchResult AluLoop(string name, int runs, bool quick)
        => ApicLoop(ApicLoopWorkload.Kind.Alu, name, runs, quick ? 4_000_000 : 40_000_000, baseline: null, "4 instructions: add, xor, dec, jnz");

    private static BenchResult ApicLoop(ApicLoopWorkload.Kind kind, string name, int runs, long instructions, string? baseline, string note)
    {
        using var w = new ApicLoopWorkload(kind);
        w.Run(instructions / 10);
        var rates = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            long before = w.Cpu.InstructionsExecuted;
            var sw = Stopwatch.StartNew();
            w.Run(instructions);
            rates.Add(Mips(w.Cpu.InstructionsExecuted - before, sw.Elapsed));
        }

        return new BenchResult(name, "MIPS", rates, Baseline: baseline, Note: note);
    }

    private static BenchResult Loop(int runs, long instructions)
    {
        using var w = new CpuLoopWorkload();
        w.Run(instructions / 10); // warm up: decode the blocks, let the JIT tier up
        var rates = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            long before = w.Cpu.InstructionsExecuted;
            var sw = Stopwatch.StartNew();
            w.Run(instructions);
            rates.Add(Mips(w.Cpu.InstructionsExecuted - before, sw.Elapsed));
        }

        return new BenchResult(LoopName, "MIPS", rates, Baseline: DecodeName);
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

    private static BenchResult Guest(int runs, int rounds)
    {
        var rates = new List<double>();
        for (int r = -1; r < runs; r++)
        {
            double mips = BenchGuest.Mips($"prog=dedupwork dedup.rounds={rounds}");
            if (r >= 0)
                rates.Add(mips); // the first run warms up
        }

        return new BenchResult(GuestName, "MIPS", rates, Baseline: LoopName, Note: $"boot + dedupwork, {rounds} rounds");
    }

    private static double Mips(long instructions, TimeSpan elapsed) => instructions / elapsed.TotalSeconds / 1e6;
}

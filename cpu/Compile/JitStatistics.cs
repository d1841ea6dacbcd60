namespace MiniHv.Cpu;

/// <summary>What the block compiler of one CPU has done: for --stats and the benchmarks.</summary>
/// <param name="BlocksCompiled">Blocks with compiled code installed.</param>
/// <param name="BlocksRefused">Hot blocks whose first instruction the compiler does not handle.</param>
/// <param name="BlocksEvicted">Compiled blocks dropped to keep the code cache within its capacity.</param>
/// <param name="CompileSeconds">The compile thread's CPU time spent compiling this CPU's blocks (its wall time where the thread's CPU time cannot be read: <see cref="ThreadCpuClock"/>).</param>
/// <param name="MedianCompileMicroseconds">Median CPU time to compile one block (0 before the first).</param>
/// <param name="InstructionsCompiled">Instructions retired in compiled code.</param>
/// <param name="InstructionsTotal">All instructions retired (the CPU's clock).</param>
/// <param name="ChainsFollowed">Times a compiled block went straight on into the next block's compiled code.</param>
/// <param name="BlocksReused">Hot blocks given code compiled before for the same instructions (by this CPU or another), not compiled again.</param>
public sealed record JitStatistics(long BlocksCompiled, long BlocksRefused, long BlocksEvicted, double CompileSeconds,
    double MedianCompileMicroseconds, long InstructionsCompiled, long InstructionsTotal, long ChainsFollowed, long BlocksReused)
{
    /// <summary>The share of retired instructions that ran in compiled code, 0 to 1.</summary>
    public double CompiledShare => InstructionsTotal == 0 ? 0 : (double)InstructionsCompiled / InstructionsTotal;

    /// <summary>Compile CPU time as a share of <paramref name="run"/> (the host time of the run it served), 0 to 1 or more: the compile thread runs beside the guest.</summary>
    public double CompileShareOf(TimeSpan run) => run <= TimeSpan.Zero ? 0 : CompileSeconds / run.TotalSeconds;
}

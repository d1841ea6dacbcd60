using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>
/// The second tier: blocks that ran <see cref="JitThreshold"/> times are compiled on the compile thread
/// (<see cref="CompileQueue"/>) and, once installed in their <see cref="Block"/>, run as host code. A block
/// carries its code, so whatever drops or invalidates the block drops the code with it.
/// </summary>
/// <remarks>
/// What runs when: ChainBlocks (Cpu.Run.cs) enters a block through <see cref="EnterBlock"/>. A block with code
/// runs it, and for as long as the interpreter itself would chain (the block ran to its end, no AbortBlock, the
/// successor linked under the current translation epoch, budget left for the successor's whole code),
/// <see cref="ChainCompiled"/> goes straight on into the successor's code without returning to ChainBlocks.
/// Interrupts are therefore taken where the interpreter takes them, between runs of blocks, and the retired count
/// stays exact. The compile thread finds code by the block's decoded instructions first
/// (<see cref="CompiledCodeByContent"/>), so guests running the same program compile each block once.
/// </remarks>
public sealed unsafe partial class Cpu
{
    private CpuTier _tier = CpuTier.Interp;
    private readonly CompiledCodeCache _compiledCode = new(MaxCompiledBlocks);
    private readonly object _jitStatsLock = new();
    private readonly List<double> _compileMicroseconds = new();
    private long _blocksCompiled, _blocksRefused, _blocksReused, _compileTicks, _chainsFollowed;

    /// <summary>Blocks of one CPU that may hold compiled code at once.</summary>
    public const int MaxCompiledBlocks = 8192;

    /// <summary>Instructions retired in compiled code.</summary>
    public long InstructionsCompiled { get; private set; }

    /// <summary>Interpret only, or compile hot blocks.</summary>
    public CpuTier Tier
    {
        get => _tier;
        set => _tier = value;
    }

    /// <summary>Forget the compiled code kept for reuse across CPUs, so that the next guest compiles its blocks as in a fresh process (for benchmarks of short runs).</summary>
    public static void ForgetSharedCompiledCode() => CompileQueue.ForgetSharedCode();

    /// <summary>
    /// How many times a block runs interpreted before it is queued for compilation. A compile costs the compile
    /// thread about a millisecond, and compiled code saves a few nanoseconds per run of a block on kernel paths, so
    /// only blocks that go on running for a long time repay it: at 50, the Linux boot compiled 567 blocks and ran
    /// 19% of its instructions compiled, and short kernel-bound runs spent more compiling than they saved
    /// (docs/performance.md, "Block compiler as the default").
    /// </summary>
    public int JitThreshold { get; set; } = 1000;

    /// <summary>Compile on the guest's thread the moment a block turns hot (tests: exact and immediate, no compile thread).</summary>
    internal bool CompileInline { get; set; }

    /// <summary>The compiler's work so far.</summary>
    public JitStatistics JitStats
    {
        get
        {
            lock (_jitStatsLock)
            {
                double median = 0;
                if (_compileMicroseconds.Count > 0)
                {
                    var sorted = _compileMicroseconds.Order().ToArray();
                    median = sorted[sorted.Length / 2];
                }

                return new JitStatistics(_blocksCompiled, _blocksRefused, _compiledCode.Evicted,
                    _compileTicks / (double)TimeSpan.TicksPerSecond, median, InstructionsCompiled, InstructionsExecuted, _chainsFollowed, _blocksReused);
            }
        }
    }

    /// <summary>
    /// Where ChainBlocks starts a block: runs its compiled prefix when it has one that fits in the budget
    /// (<paramref name="max"/> instructions in all, <paramref name="total"/> retired so far), else counts the run.
    /// Returns the first instruction left for the interpreter in <paramref name="block"/>. Compiled code that ran
    /// to its block's end chains straight into the next block's compiled code (<see cref="ChainCompiled"/>), and
    /// <paramref name="block"/>, <paramref name="first"/>, <paramref name="start"/> and <paramref name="end"/>
    /// then name the block it stopped in; passes of a block that looped in place and whole blocks chained through
    /// are added to <paramref name="total"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Insn* EnterBlock([NotNull] ref Block? block, ref Insn* first, ref uint start, ref Insn* end, int max, ref int total)
    {
        CompiledCode? code = block!.CompiledEntry;
        if (code == null)
        {
            if (block.Hits >= JitThreshold || ++block.Hits != JitThreshold)
                return first;
            QueueCompile(block);
            code = block.CompiledEntry; // there already when compiled inline
            if (code == null)
                return first;
        }

        if (block.CompiledCount > max - total)
            return first;
        int n = ChainCompiled(block, first, start, code, max, total);
        total = _chainRetired;
        if (_chainFirst != first)
        {
            // It chained on: ChainBlocks carries on in the block it stopped in. (Plain values in and out, so that
            // ChainBlocks' locals stay in registers: this method is inlined, ChainCompiled is not.)
            block = _chainedTo!;
            first = _chainFirst;
            start = _chainStart;
            int left = max - total;
            end = first + (block.Count < left ? block.Count : left);
        }

        return first + n;
    }

    // The block a chain of compiled blocks stopped in, when it went beyond the one it was entered at.
    private Block? _chainedTo;

    /// <summary>
    /// Run compiled blocks one after the other for as long as ChainBlocks would chain them: the block ran to its
    /// end, nothing asked the run to stop (AbortBlock: an interrupt made deliverable, a mode change, a store to
    /// code), the block is still valid, its link to its successor still holds (LinkedSuccessor), and the
    /// successor's compiled code fits in what is left of the budget. Each step moves the fault path's view of
    /// the chain (<c>_chainFirst</c>, <c>_chainStart</c>, <c>_chainRetired</c>) to the new block before it runs,
    /// so a fault in it is reported at its instruction with the exact count. Returns the instructions retired in
    /// the block it stopped in; <c>_chainRetired</c> then holds those retired before that block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as ChainBlocks: under jit it is the hottest loop, and its
    // quickly jitted form, which calls LinkedSuccessor and the block's getters rather than inlining them, ran for
    // seconds before the runtime's tiering got to it
    private int ChainCompiled(Block block, Insn* first, uint start, CompiledCode code, int max, int total)
    {
        Block entered = block;
        int n;
        while (true)
        {
            n = code(this, first, start, max - total);
            int passes = _chainRetired - total; // whole passes of a block that looped in place
            total = _chainRetired;
            InstructionsCompiled += n + passes;
            if (n != block.Count || AbortBlock || !block.Valid || total + n >= max)
                break;
            Block? next = LinkedSuccessor(block, EipValue);
            // The block's own fields (CompiledEntry, CompiledCount), not its CompiledBlock: one object less to
            // reach per step, and on the system-call and switch paths these steps miss the cache.
            if (next == null || !next.Valid || next.CompiledEntry is not { } nextCode || next.CompiledCount > max - total - n)
                break;

            // Compiled code exists for 32-bit blocks only, so the chain stays 32-bit (_chain16 false).
            total += n;
            _chainsFollowed++;
            block = next;
            code = nextCode;
            first = next.First;
            start = EipValue;
            _chainFirst = first;
            _chainStart = start;
            _chainRetired = total;
        }

        // Stored once per chain rather than at every step: a reference stored into the CPU costs a GC write
        // barrier. Only EnterBlock reads it, after the chain; the fault path needs only the fields above.
        if (block != entered)
            _chainedTo = block;
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void QueueCompile(Block block)
    {
        if (!block.Valid)
            return;
        if (!CompileInline)
        {
            CompileQueue.Enqueue(this, block);
            return;
        }

        TimeSpan t0 = ThreadCpuClock.Now();
        Install(block, BlockCompiler.Compile(block), ThreadCpuClock.Now() - t0);
    }

    // What compiled code reaches inside the CPU beyond its internal fields, named here (inside the class) so that a
    // rename or a changed signature breaks the build rather than the compiler at run time.
    internal const string ExecutingFieldName = nameof(_executing);
    internal const string ChainRetiredFieldName = nameof(_chainRetired);

    /// <summary>A 4-byte load that missed the TLB, as the interpreter's slow path does it (may fault).</summary>
    internal static uint CompiledReadSlow(Cpu cpu, uint lin) => cpu.ReadSlow(lin, 4, false);

    /// <summary>A 4-byte store that missed the TLB's write entries, as the interpreter's slow path does it (may fault).</summary>
    internal static void CompiledWriteSlow(Cpu cpu, uint lin, uint value) => cpu.WriteSlow(lin, 4, value, false);

    /// <summary>CF as INC and DEC keep it, from the flags in the CPU's fields.</summary>
    internal static uint CompiledCarryForIncDec(Cpu cpu) => cpu.CarryForIncDec();

    /// <summary>True once the CPU is disposed: the compile thread skips what it still has queued for it.</summary>
    internal bool CompilerClosed => _compilerClosed;

    private volatile bool _compilerClosed;

    private void CloseCompiler() => _compilerClosed = true;

    /// <summary>Called with a block's finished compile (null: nothing in it the compiler handles) and the compiling thread's CPU time for it.</summary>
    internal void Install(Block block, CompiledBlock? code, TimeSpan elapsed, bool reused = false)
    {
        lock (_jitStatsLock)
        {
            _compileTicks += elapsed.Ticks;
            if (code == null)
            {
                _blocksRefused++;
                return;
            }

            if (reused)
            {
                // Code compiled before for the same instructions (CompiledCodeByContent): no compile to count.
                _blocksReused++;
                _compiledCode.Add(block, code);
                return;
            }

            _blocksCompiled++;
            if (_compileMicroseconds.Count < 65536)
                _compileMicroseconds.Add(elapsed.TotalMicroseconds);
            _compiledCode.Add(block, code);
        }
    }
}

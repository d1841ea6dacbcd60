using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>
/// The second tier: blocks that ran <see cref="JitThreshold"/> times are compiled on the compile thread
/// (<see cref="CompileQueue"/>) and, once installed in their <see cref="Block"/>, run as host code. A block
/// carries its code, so whatever drops or invalidates the block drops the code with it.
/// </summary>
public sealed unsafe partial class Cpu
{
    private CpuTier _tier = CpuTier.Interp;
    private readonly CompiledCodeCache _compiledCode = new(MaxCompiledBlocks);
    private readonly object _jitStatsLock = new();
    private readonly List<double> _compileMicroseconds = new();
    private long _blocksCompiled, _blocksRefused, _compileTicks;

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

    /// <summary>How many times a block runs interpreted before it is queued for compilation.</summary>
    public int JitThreshold { get; set; } = 50;

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
                    _compileTicks / (double)TimeSpan.TicksPerSecond, median, InstructionsCompiled, InstructionsExecuted);
            }
        }
    }

    /// <summary>
    /// Where ChainBlocks starts a block: runs its compiled prefix when it has one that fits in the budget
    /// (<paramref name="left"/> instructions), else counts the run. Returns the first instruction left for the
    /// interpreter; passes of a block that looped in place are added to <paramref name="total"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Insn* EnterBlock(Block block, Insn* first, int left, uint start, ref int total)
    {
        CompiledBlock? code = block.Compiled;
        if (code == null)
        {
            if (block.Hits >= JitThreshold || ++block.Hits != JitThreshold)
                return first;
            QueueCompile(block);
            code = block.Compiled; // there already when compiled inline
            if (code == null)
                return first;
        }

        if (code.Count > left)
            return first;
        int n = code.Code(this, first, start, left);
        int passes = _chainRetired - total; // whole passes of a block that looped in place
        total = _chainRetired;
        InstructionsCompiled += n + passes;
        return first + n;
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

        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        Install(block, BlockCompiler.Compile(block), System.Diagnostics.Stopwatch.GetElapsedTime(t0));
    }

    /// <summary>Called with a block's finished compile (null: nothing in it the compiler handles).</summary>
    internal void Install(Block block, CompiledBlock? code, TimeSpan elapsed)
    {
        lock (_jitStatsLock)
        {
            _compileTicks += elapsed.Ticks;
            if (code == null)
            {
                _blocksRefused++;
                return;
            }

            _blocksCompiled++;
            if (_compileMicroseconds.Count < 65536)
                _compileMicroseconds.Add(elapsed.TotalMicroseconds);
            _compiledCode.Add(block, code);
        }
    }
}

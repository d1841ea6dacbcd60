using System.Collections.Concurrent;

namespace MiniHv.Cpu;

/// <summary>
/// One background thread for the whole process that compiles the blocks guests found hot, so a guest never
/// waits for a compile: it keeps interpreting the block until the compiled code is installed in it.
/// </summary>
internal static class CompileQueue
{
    private static readonly BlockingCollection<(Cpu Cpu, Block Block)> Pending = new(new ConcurrentQueue<(Cpu, Block)>());
    private static readonly object StartLock = new();
    private static Thread? _worker;
    private static readonly CompiledCodeByContent ByContent = new();

    /// <summary>Forget the code shared by content, so that the next run compiles as a fresh process would (benchmarks).</summary>
    public static void ForgetSharedCode() => ByContent.Clear();

    // Past this many waiting requests new ones are dropped: the block counts its runs again and asks later.
    private const int MaxPending = 4096;

    public static void Enqueue(Cpu cpu, Block block)
    {
        if (_worker == null)
            Start();
        if (Pending.Count < MaxPending)
            Pending.Add((cpu, block));
        else
            block.Hits = 0;
    }

    private static void Start()
    {
        lock (StartLock)
        {
            if (_worker != null)
                return;
            _worker = new Thread(Work) { IsBackground = true, Name = "minihv block compiler", Priority = ThreadPriority.BelowNormal };
            _worker.Start();
        }
    }

    private static void Work()
    {
        CompileThreadNiceness.LowerCallingThread();
        foreach (var (cpu, block) in Pending.GetConsumingEnumerable())
        {
            // A guest that has ended (or a block dropped since) leaves its requests behind: compiling them would
            // only delay the running guests' blocks.
            if (!block.Valid || cpu.CompilerClosed)
                continue;
            TimeSpan t0 = ThreadCpuClock.Now(); // CPU time: at nice 10 on a busy host, wall time would count the waits for a core
            // Only 32-bit blocks have code, and the bitness is not among an instruction's fields.
            int hash = 0;
            CompiledBlock? code = block.Bitness == 32 ? ByContent.Find(block.Insns, out hash) : null;
            bool reused = code != null;
            if (code == null)
            {
                code = BlockCompiler.Compile(block);
                if (code != null)
                    ByContent.Add(hash, block.Insns, code);
            }

            cpu.Install(block, code, ThreadCpuClock.Now() - t0, reused);
        }
    }
}

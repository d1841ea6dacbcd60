using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>What a debug trap watches for: a write, a read, or either, of a range of linear addresses.</summary>
public enum WatchKind
{
    Write,
    Read,
    Access,
}

/// <summary>A data watchpoint on <paramref name="Length"/> bytes of linear memory from <paramref name="Address"/>.</summary>
public readonly record struct Watchpoint(uint Address, uint Length, WatchKind Kind);

/// <summary>Why a run stopped with <see cref="StopReason.Debug"/>.</summary>
public enum DebugStopKind
{
    None,

    /// <summary>EIP reached a breakpoint; the instruction there has not run.</summary>
    Breakpoint,

    /// <summary>An instruction accessed a watched range; it has retired (a trap, as on x86).</summary>
    Watchpoint,

    /// <summary>One instruction ran under <see cref="Cpu.SingleStep"/>.</summary>
    Step,
}

/// <summary>A debug stop: its kind, the linear address (of the breakpoint or of the watched access) and, for a watchpoint, how it was touched.</summary>
public readonly record struct DebugStop(DebugStopKind Kind, uint Address, WatchKind Access);

/// <summary>
/// Debug traps kept inside the emulator, never patched into guest memory (a patched byte would spoil the
/// decode cache and page sharing): breakpoints on linear EIPs, watchpoints on linear data, single-step.
/// </summary>
/// <remarks>
/// With no trap set the hot loop is untouched: <see cref="Run"/> tests one flag per run of chained blocks.
/// With traps set, blocks run through <see cref="ChainBlocksDebug"/>, which stops at a breakpoint inside a
/// block; a watched page is never cached in the TLB, so every access to it takes the slow path, which
/// compares it with the watched ranges.
/// </remarks>
public sealed unsafe partial class Cpu
{
    private bool _debugging;
    private bool _stepping;
    private uint[] _breakpoints = [];
    private Watchpoint[] _watchpoints = [];
    private HashSet<uint>? _watchedPages;
    private bool _skipBreakpointOnce;
    private DebugStop _pendingStop;

    /// <summary>Run one instruction at a time, stopping after each with <see cref="DebugStopKind.Step"/>; no interrupt is taken meanwhile (as QEMU steps), unless the CPU is halted.</summary>
    public bool SingleStep
    {
        get => _stepping;
        set
        {
            _stepping = value;
            UpdateDebugging();
        }
    }

    /// <summary>Why the last run stopped with <see cref="StopReason.Debug"/>.</summary>
    public DebugStop LastDebugStop { get; private set; }

    /// <summary>Replace the breakpoints (linear addresses of instructions) and watchpoints.</summary>
    public void SetDebugTraps(IEnumerable<uint> breakpoints, IEnumerable<Watchpoint> watchpoints)
    {
        _breakpoints = breakpoints.Distinct().ToArray();
        _watchpoints = watchpoints.Where(w => w.Length > 0).ToArray();
        if (_watchpoints.Length == 0)
        {
            _watchedPages = null;
        }
        else
        {
            _watchedPages = new HashSet<uint>();
            foreach (Watchpoint w in _watchpoints)
            {
                for (ulong page = w.Address >> 12; page <= (w.Address + (ulong)w.Length - 1) >> 12; page++)
                    _watchedPages.Add((uint)(page & 0xFFFFF));
            }
        }

        FlushTlb(); // watched pages must miss from now on, unwatched ones may be cached again
        UpdateDebugging();
    }

    /// <summary>The next run starts at a breakpoint without stopping there again (a debugger resuming from it).</summary>
    public void ResumeFromDebugStop() => _skipBreakpointOnce = true;

    private void UpdateDebugging()
    {
        _debugging = _stepping || _breakpoints.Length > 0 || _watchpoints.Length > 0;
        AbortBlock = true; // a running chain picks the new mode up at its next block
    }

    /// <summary>Ends the run after the instruction that made it: a trap was hit.</summary>
    private bool TakePendingStop()
    {
        if (_pendingStop.Kind == DebugStopKind.None)
            return false;
        LastDebugStop = _pendingStop;
        _pendingStop = default;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsWatchedPage(uint linear) => _watchedPages != null && _watchedPages.Contains(linear >> 12);

    /// <summary>An access of the slow path to a watched page: note a hit for the first watchpoint it touches.</summary>
    private void CheckWatch(uint linear, int size, bool write)
    {
        if (_pendingStop.Kind != DebugStopKind.None)
            return;
        foreach (Watchpoint w in _watchpoints)
        {
            bool kindMatches = w.Kind == WatchKind.Access || (w.Kind == WatchKind.Write) == write;
            if (!kindMatches || linear - w.Address >= w.Length && w.Address - linear >= (uint)size)
                continue;
            uint hit = linear - w.Address < w.Length ? linear : w.Address;
            _pendingStop = new DebugStop(DebugStopKind.Watchpoint, hit, w.Kind);
            AbortBlock = true;
            return;
        }
    }

    /// <summary>The index of the first instruction after the block's first that starts at a breakpoint, or the block's count.</summary>
    private int BreakpointIndex(Block block, uint linearStart)
    {
        int count = block.Count;
        uint bytes = block.First[count - 1].NextOffset;
        foreach (uint bp in _breakpoints)
        {
            uint offset = bp - linearStart;
            if (offset == 0 || offset >= bytes)
                continue;
            for (int i = 1; i < count; i++)
            {
                if (block.First[i].Offset == offset)
                {
                    count = i;
                    break;
                }
            }
        }

        return count;
    }

    private bool IsBreakpoint(uint linear)
    {
        foreach (uint bp in _breakpoints)
        {
            if (bp == linear)
                return true;
        }

        return false;
    }

    /// <summary>
    /// <see cref="ChainBlocks"/> with traps set: the same loop, but a block is cut short before an instruction
    /// at a breakpoint, a chain stops at a block that starts at one, and a watchpoint hit ends the chain.
    /// </summary>
    private int ChainBlocksDebug(int max, ref Block? previousBlock)
    {
        Block? previous = previousBlock;
        int total = 0;
        while (true)
        {
            uint start = EipValue;
            uint linear = SegBase[(int)SegReg.CS] + start;
            if (_skipBreakpointOnce)
            {
                _skipBreakpointOnce = false;
            }
            else if (IsBreakpoint(linear))
            {
                _pendingStop = new DebugStop(DebugStopKind.Breakpoint, linear, default);
                previousBlock = null;
                return total;
            }

            Block? block = LinkedSuccessor(previous, start);
            if (block == null || !block.Valid)
            {
                _chainFirst = null;
                _chainRetired = total;
                block = GetBlock(start);
                if (previous != null && block.Valid && !block.CrossesPage && (CheckedSegments & (1 << (int)SegReg.CS)) == 0)
                    previous.Link(block, ChainEpoch);
            }

            Insn* first = block.First;
            int left = max - total;
            int runnable = _breakpoints.Length == 0 ? block.Count : BreakpointIndex(block, linear);
            Insn* end = first + (runnable < left ? runnable : left);
            _chainFirst = first;
            _chainStart = start;
            _chainRetired = total;
            _chain16 = block.Bitness == 16;
            Insn* p = first;
            while (p < end)
            {
                _executing = p;
                EipValue = start + p->NextOffset;
                p->Exec(this, ref *p);
                p++;
                if (AbortBlock)
                    break;
            }

            int retired = (int)(p - first);
            total += retired;
            if (AbortBlock || retired != block.Count || !block.Valid)
            {
                previousBlock = !AbortBlock && retired == block.Count && block.Valid ? block : null;
                AbortBlock = false;
                return total;
            }

            previous = block;
            if (total >= max)
            {
                previousBlock = block;
                return total;
            }
        }
    }
}

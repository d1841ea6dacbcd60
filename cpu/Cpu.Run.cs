using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>The execution loop: blocks from the cache, interrupts between blocks, exceptions delivered where they arise.</summary>
public sealed unsafe partial class Cpu
{
    // Bumped whenever a linear-to-physical translation, the TLB in use or CS may have changed: a compiled
    // block that loops on itself (cpu/Compile) leaves the loop when it moves.
    internal long TranslationEpoch;

    // Bumped when CS changes base, size or flatness: block links made under an older one are not followed.
    // Unlike TranslationEpoch it stays when the CPU only switches TLB sets (a CR3 load to a cached space) or
    // privilege level, since a link is followed only while the TLB in use maps its target (LinkedSuccessor):
    // kernel code reached from every address space keeps its links across system calls and switches.
    internal long ChainEpoch;

    /// <summary>
    /// The block <paramref name="previous"/> is linked to at <paramref name="eip"/>, if GetBlock would find that
    /// block now: the link was made under this CS (flat, so EIP is the linear address), and it leads to the frame
    /// the TLB in use maps EIP to (a switched TLB set, a changed CPL or an INVLPG shows here), and under EFER.NXE the
    /// page is known to be fetchable now (the read entry alone does not say). The caller checks Valid.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block? LinkedSuccessor(Block? previous, uint eip)
    {
        if (previous == null || (FetchChecks && !FetchKnownAllowed(eip)))
            return null;
        TlbEntry* e = TlbRead + ((eip >> 12) & TlbMask);
        if (e->Tag != (eip & 0xFFFFF000))
            return null;
        return previous.Successor((e->Gfn << 12) | (eip & 0xFFF), ChainEpoch);
    }

    /// <summary>
    /// Run up to <paramref name="maxInstructions"/> instructions. Returns when the budget is used,
    /// the CPU halts, a stop is requested, or the processor shuts down. Guest misbehaviour never
    /// throws out of here.
    /// </summary>
    public StopReason Run(long maxInstructions)
    {
        long remaining = maxInstructions;
        Block? previous = null;
        _pausesThisRun = 0;
        while (true)
        {
            if (_stopRequested)
            {
                _stopRequested = false;
                AbortBlock = false;
                return StopReason.StopRequested;
            }

            if (TakePauseLoopExit())
                return StopReason.PauseLoop;

            if (UnsupportedReason != null)
                return StopReason.Unsupported;

            // Before anything below is consumed: an STI shadow or a pending interrupt must wait for the next
            // call rather than depend on where the caller's budget happened to end.
            if (remaining <= 0 && !Halted)
                return StopReason.Budget;

            int limit = int.MaxValue;
            if (InterruptShadow)
            {
                InterruptShadow = false;
                limit = 1;
            }
            else if (_nmiPending && !_nmiBlocked && (!_stepping || Halted))
            {
                previous = null;
                _skipBreakpointOnce = false;
                if (!TakeNmi())
                    return StopReason.TripleFault;
                AbortBlock = false;
            }
            else if ((FlagsRest & IF) != 0 && (!_stepping || Halted) && InterruptController is { HasPendingInterrupt: true } pic)
            {
                Halted = false;
                previous = null;
                _skipBreakpointOnce = false; // the handler's first instruction may be a breakpoint
                if (!RaiseException(pic.AcknowledgeInterrupt(), -1, external: true))
                    return StopReason.TripleFault;
                AbortBlock = false;
                if (UnsupportedReason != null)
                    return StopReason.Unsupported; // real mode, and no handler behind the vector

            }

            if (Halted)
                return StopReason.Halted;
            if (remaining <= 0)
                return StopReason.Budget;
            if (GateJoined && Group!.Gate.Requested)
            {
                // Another processor's thread needs every other one stopped: wait here, at a block boundary, and
                // look again at what it may have sent (an interrupt, an NMI, a stop).
                previous = null;
                Group.Gate.Park(this);
                continue;
            }

            int max = remaining < limit ? (int)Math.Min(remaining, int.MaxValue) : limit;
            if (_stepping)
                max = 1;
            long done = ExecuteBlocks(max, ref previous, out bool tripleFault) + ExtraCharge;
            ExtraCharge = 0;
            remaining -= done;
            InstructionsExecuted += done;
            if (tripleFault)
                return StopReason.TripleFault;
            if (_debugging)
            {
                if (_stepping && _pendingStop.Kind == DebugStopKind.None && done > 0)
                    _pendingStop = new DebugStop(DebugStopKind.Step, SegBase[(int)SegReg.CS] + EipValue, default);
                if (TakePendingStop())
                    return StopReason.Debug;
            }
        }
    }

    /// <summary>
    /// Run blocks, at most <paramref name="max"/> instructions in all; returns how many retired.
    /// <paramref name="previous"/> is the block that ran just before and ran to its end, or null.
    /// </summary>
    private int ExecuteBlocks(int max, ref Block? previous, out bool tripleFault)
    {
        tripleFault = false;
        if (_droppedBlocks.Count > 0)
            _droppedBlocks.Clear();
        try
        {
            int done = _debugging ? ChainBlocksDebug(max, ref previous) : ChainBlocks(max, ref previous);
            if (!PageFaultPending)
                return done;
            PageFaultPending = false;
            return DeliverFault(Vectors.PF, _pendingPageFaultError, ref previous, out tripleFault);
        }
        catch (GuestFault f)
        {
            _reportPageFault = false;
            _inCompiledCode = false;
            return DeliverFault(f.Vector, f.ErrorCode, ref previous, out tripleFault);
        }
        finally
        {
            _chainFirst = null; // outside a chain, InstructionsNow is the retired count
            SideExit = false;   // the debugging loop, a fault or a stop left the block like any abort
        }
    }

    /// <summary>
    /// Deliver a fault raised by the instruction the chain was executing (thrown, or left pending by a handler);
    /// returns the instructions retired before it.
    /// </summary>
    private int DeliverFault(int vector, int errorCode, ref Block? previous, out bool tripleFault)
    {
        // EIP names the instruction that caused it, which did not retire. A fault while fetching a block
        // leaves EIP at the block's start.
        int total = _chainRetired;
        if (_chainFirst != null)
        {
            EipValue = _chainStart + _executing->Offset;
            if (_chain16)
                EipValue &= 0xFFFF;
            total += (int)(_executing - _chainFirst);
        }

        _chainFirst = null;
        previous = null;
        tripleFault = !RaiseException(vector, errorCode, external: false);
        AbortBlock = false;

        // An exception delivered where nothing retired still costs an instruction of budget and time,
        // or a handler whose first instruction faults again would hold Run (and the guest's clock) forever.
        return total > 0 ? total : 1;
    }

    /// <summary>
    /// Instructions retired so far, exact even in the middle of a run (for a device that a guest instruction
    /// is talking to right now): the count before the current instruction.
    /// </summary>
    public long InstructionsNow => _chainFirst == null
        ? InstructionsExecuted + ExtraCharge
        : InstructionsExecuted + ExtraCharge + _chainRetired + (_executing - _chainFirst);

    /// <summary>Instructions' worth of work beyond one per instruction in the current run (the iterations of a REP), added when blocks stop chaining.</summary>
    internal long ExtraCharge;

    /// <summary>The EIP of the instruction executing now (exact in the middle of a run, for a hidden fault's report), else EIP.</summary>
    public uint CurrentInstructionEip => _chainFirst == null
        ? EipValue
        : _chain16 ? (_chainStart + _executing->Offset) & 0xFFFF : _chainStart + _executing->Offset;

    // Where ChainBlocks is, for the fault path: instructions retired before the current block, the
    // block's first instruction (null while fetching a block), its start and bitness, and the instruction
    // running. Plain values and pointers into pinned arrays: no GC write barrier on the hot path.
    private int _chainRetired;

    // Set with AbortBlock by a conditional branch taken in the middle of its block (JccSideExit): the block ended
    // because of where it goes, not because anything Run checks changed.
    internal bool SideExit;
    private Insn* _chainFirst;
    private uint _chainStart;
    private bool _chain16;
    private Insn* _executing;

    /// <summary>
    /// The hot loop. A block that runs to its end without asking to stop chains straight into the next:
    /// nothing that Run checks between blocks can have changed, since every instruction that could make an
    /// interrupt deliverable (STI, POPF, IRET, port I/O), halt, or change the mode sets AbortBlock.
    /// It has no exception handling, so the JIT keeps its locals in registers; a fault unwinds to
    /// <see cref="ExecuteBlocks"/>, which finds where it was in the fields above.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised at once: no on-stack replacement mid-loop
    private int ChainBlocks(int max, ref Block? previousBlock)
    {
        Block? previous = previousBlock;
        int total = 0;
        while (true)
        {
            uint start = EipValue;
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
            Insn* end = first + (block.Count < left ? block.Count : left);
            _chainFirst = first;
            _chainStart = start;
            _chainRetired = total;
            _chain16 = block.Bitness == 16;
            Insn* p = first;
            if (_tier == CpuTier.Jit)
            {
                _inCompiledCode = true;
                p = EnterBlock(ref block, ref first, ref start, ref end, max, ref total); // may chain on: block and first move with it
                _inCompiledCode = false;
            }

            // Compiled code that stopped on AbortBlock retired its last instruction: the interpreter must not run another.
            if (p == first || !AbortBlock)
            {
                while (p < end)
                {
                    _executing = p;
                    EipValue = start + p->NextOffset;
                    p->Exec(this, ref *p);
                    p++;
                    if (AbortBlock)
                        break;
                }
            }

            int retired = (int)(p - first);
            total += retired;
            if (SideExit && AbortBlock && block.Valid)
            {
                // A branch taken in the middle of the block: go on at its target as after the block's end, unless
                // another thread asked the chain to stop meanwhile (as AbortBlock does), which Run handles.
                SideExit = false;
                AbortBlock = false;
                if (total >= max || _stopRequested || _nmiPending || (GateJoined && Group!.Gate.Requested))
                {
                    previousBlock = block;
                    return total;
                }

                previous = block;
                continue;
            }

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

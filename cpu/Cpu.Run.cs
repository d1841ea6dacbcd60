using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>The execution loop: blocks from the cache, interrupts between blocks, exceptions delivered where they arise.</summary>
public sealed unsafe partial class Cpu
{
    // Bumped whenever a linear-to-physical translation or CS may have changed: block chains made
    // under an older epoch are not followed.
    internal long TranslationEpoch;

    /// <summary>
    /// Run up to <paramref name="maxInstructions"/> instructions. Returns when the budget is used,
    /// the CPU halts, a stop is requested, or the processor shuts down. Guest misbehaviour never
    /// throws out of here.
    /// </summary>
    public StopReason Run(long maxInstructions)
    {
        long remaining = maxInstructions;
        Block? previous = null;
        while (true)
        {
            if (_stopRequested)
            {
                _stopRequested = false;
                AbortBlock = false;
                return StopReason.StopRequested;
            }

            if (UnsupportedReason != null)
                return StopReason.Unsupported;

            int limit = int.MaxValue;
            if (InterruptShadow)
            {
                InterruptShadow = false;
                limit = 1;
            }
            else if ((FlagsRest & IF) != 0 && InterruptController is { HasPendingInterrupt: true } pic)
            {
                Halted = false;
                previous = null;
                if (!RaiseException(pic.AcknowledgeInterrupt(), -1, external: true))
                    return StopReason.TripleFault;
                AbortBlock = false;
            }

            if (Halted)
                return StopReason.Halted;
            if (remaining <= 0)
                return StopReason.Budget;

            int max = remaining < limit ? (int)Math.Min(remaining, int.MaxValue) : limit;
            int done = ExecuteBlocks(max, ref previous, out bool tripleFault);
            remaining -= done;
            InstructionsExecuted += done;
            if (tripleFault)
                return StopReason.TripleFault;
        }
    }

    /// <summary>
    /// Run blocks, at most <paramref name="max"/> instructions in all; returns how many retired.
    /// <paramref name="previous"/> is the block that ran just before and ran to its end, or null.
    /// </summary>
    /// <remarks>
    /// A block that runs to its end without asking to stop chains straight into the next one: nothing
    /// that Run checks between blocks can have changed, since every instruction that could make an
    /// interrupt deliverable (STI, POPF, IRET, port I/O), halt, or change the mode sets AbortBlock.
    /// </remarks>
    private int ExecuteBlocks(int max, ref Block? previous, out bool tripleFault)
    {
        tripleFault = false;
        int total = 0;
        while (true)
        {
            uint start = EipValue;
            Block? block = previous?.Successor(start, TranslationEpoch);
            if (block == null || !block.Valid)
            {
                try
                {
                    block = GetBlock(start);
                }
                catch (GuestFault f)
                {
                    previous = null;
                    tripleFault = !RaiseException(f.Vector, f.ErrorCode, external: false);
                    AbortBlock = false;
                    return total;
                }

                if (previous != null && block.Valid && (CheckedSegments & (1 << (int)SegReg.CS)) == 0)
                    previous.Link(start, block, TranslationEpoch);
            }

            int left = max - total;
            int n = block.Count < left ? block.Count : left;
            int i;
            try
            {
                i = ExecuteInstructions(block.Insns, start, n);
            }
            catch (GuestFault f)
            {
                // A fault: EIP names the instruction that caused it, which did not retire.
                i = _executingIndex;
                EipValue = start + block.Insns[i].Offset;
                if (block.Bitness == 16)
                    EipValue &= 0xFFFF;
                previous = null;
                tripleFault = !RaiseException(f.Vector, f.ErrorCode, external: false);
                AbortBlock = false;
                return total + i;
            }

            total += i;
            if (AbortBlock || i != block.Count || !block.Valid)
            {
                previous = !AbortBlock && i == block.Count && block.Valid ? block : null;
                AbortBlock = false;
                return total;
            }

            previous = block;
            if (total >= max)
                return total;
        }
    }

    // The index of the instruction ExecuteInstructions is running, for the fault path.
    private int _executingIndex;

    /// <summary>
    /// The hot loop: up to <paramref name="n"/> instructions of a block. Kept free of exception handling
    /// so the JIT holds its locals in registers; a fault unwinds to ExecuteBlock, which finds the faulting
    /// instruction in <see cref="_executingIndex"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ExecuteInstructions(Insn[] insns, uint start, int n)
    {
        ref Insn first = ref MemoryMarshal.GetArrayDataReference(insns);
        int i = 0;
        while (i < n)
        {
            ref Insn insn = ref Unsafe.Add(ref first, i);
            _executingIndex = i;
            EipValue = start + insn.NextOffset;
            insn.Exec(this, ref insn);
            i++;
            if (AbortBlock)
                break;
        }

        return i;
    }
}

using System.Runtime.CompilerServices;

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
            int done = ExecuteBlock(max, ref previous, out bool tripleFault);
            remaining -= done;
            InstructionsExecuted += done;
            if (tripleFault)
                return StopReason.TripleFault;
        }
    }

    /// <summary>
    /// Run one block, at most <paramref name="max"/> instructions of it; returns how many retired.
    /// <paramref name="previous"/> is the block that ran just before and ran to its end, or null.
    /// </summary>
    private int ExecuteBlock(int max, ref Block? previous, out bool tripleFault)
    {
        tripleFault = false;
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
                return 0;
            }

            if (previous != null && block.Valid && (CheckedSegments & (1 << (int)SegReg.CS)) == 0)
                previous.Link(start, block, TranslationEpoch);
        }

        int n = block.Count < max ? block.Count : max;
        int i = 0;
        ref Insn first = ref block.Insns[0];
        try
        {
            while (i < n)
            {
                ref Insn insn = ref Unsafe.Add(ref first, i);
                EipValue = start + insn.NextOffset;
                insn.Exec(this, ref insn);
                i++;
                if (AbortBlock)
                    break;
            }
        }
        catch (GuestFault f)
        {
            // A fault: EIP names the instruction that caused it, which did not retire.
            EipValue = start + Unsafe.Add(ref first, i).Offset;
            if (block.Bitness == 16)
                EipValue &= 0xFFFF;
            previous = null;
            tripleFault = !RaiseException(f.Vector, f.ErrorCode, external: false);
            AbortBlock = false;
            return i;
        }

        previous = !AbortBlock && i == block.Count && block.Valid ? block : null;
        AbortBlock = false;
        return i;
    }
}

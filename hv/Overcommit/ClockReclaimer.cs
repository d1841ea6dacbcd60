using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Overcommit;

/// <summary>
/// Chooses which of one guest's frames to swap out: the clock (second-chance) algorithm. A hand goes round
/// the guest's frames; a frame whose accessed bit is set (it was used since the hand last passed) loses the
/// bit and is kept; one whose bit is clear is swapped out. A gfn on a shared (read-only) frame goes to the
/// slot its first sharer wrote the frame to, so the frame is written once and goes back to the pool when its
/// last sharer is out. Frames on the zero frame cost nothing and are passed over. The hand and the bits
/// depend only on what the guest did, so a deterministic run chooses the same victims every time.
/// </summary>
/// <remarks>Only on the guest's own thread between its quanta, or while it cannot run (it has stopped).</remarks>
public sealed class ClockReclaimer
{
    private readonly GuestPhysicalMemory _memory;
    private readonly IAccessedBits? _accessed;
    private uint _hand;

    /// <param name="memory">The guest's memory; its <see cref="GuestPhysicalMemory.Swap"/> is where frames go.</param>
    /// <param name="accessed">The guest's accessed bits (its shadow MMU), or null when there are none: then the hand takes frames in turn, first in first out.</param>
    public ClockReclaimer(GuestPhysicalMemory memory, IAccessedBits? accessed)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _accessed = accessed;
    }

    /// <summary>Where the hand is: the next gfn it looks at.</summary>
    public uint Hand => _hand;

    /// <summary>Frames the hand passed over because their accessed bit was set.</summary>
    public long SecondChances { get; private set; }

    /// <summary>
    /// Takes up to <paramref name="frames"/> frames off the machine: into <paramref name="swap"/>, or onto the
    /// zero frame when all zero. Goes round at most twice (every bit is clear after one round). Returns the
    /// frames given back to the pool (a shared frame's only with its last sharer); fewer when the guest has
    /// no more or the swap is full.
    /// </summary>
    /// <exception cref="IOException">The swap file refused a write: the frame stays where it was.</exception>
    public unsafe int Reclaim(int frames, SwapSpace swap)
    {
        ArgumentNullException.ThrowIfNull(swap);
        P2m p2m = _memory.P2m;
        uint count = _memory.FrameCount;
        if (count == 0 || frames <= 0)
            return 0;
        int reclaimed = 0;
        for (long steps = 0; steps < 2L * count && reclaimed < frames; steps++)
        {
            uint gfn = _hand;
            _hand = _hand + 1 == count ? 0 : _hand + 1;
            if (p2m.IsZeroMapped(gfn) || p2m.IsSwapped(gfn) || p2m.IsBallooned(gfn))
                continue;
            if (_accessed != null && _accessed.HarvestAccessed(gfn))
            {
                SecondChances++;
                continue;
            }

            MachineMemory machine = _memory.Machine;
            Mfn mfn = p2m.GetMfn(gfn);
            var bytes = new ReadOnlySpan<byte>(machine.FrameAddress(mfn), MachineMemory.FrameSize);
            if (!p2m.IsWritable(gfn))
            {
                // Shared: nothing can write it, so its contents are the frame's as long as the frame is this allocation.
                bool last = machine.RefCount(mfn) == 1;
                if (!swap.TryWriteShared(bytes, mfn, machine.Generation(mfn), out uint shared))
                    break;
                p2m.SwapOut(gfn, shared);
                if (last)
                    reclaimed++;
                continue;
            }

            if (bytes.IndexOfAnyExcept((byte)0) < 0)
            {
                p2m.Remap(gfn, Mfn.Zero, writable: false);
                swap.CountZeroReclaim();
            }
            else
            {
                if (!swap.TryWrite(bytes, out uint slot))
                    break;
                p2m.SwapOut(gfn, slot);
            }

            reclaimed++;
        }

        return reclaimed;
    }
}

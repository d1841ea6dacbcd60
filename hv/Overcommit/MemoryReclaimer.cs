using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Overcommit;

/// <summary>
/// Keeps a machine whose guests were promised more memory than it has running: whenever a guest stops
/// between two quanta and the pool's free frames have fallen below a reserve, frames are swapped out until
/// the reserve is free again (with a quarter more, so that not every quantum pays). Frames cannot be taken
/// from a guest in the middle of its quantum (its CPU may hold their addresses), so once half the reserve is
/// gone, a guest that takes a frame ends its quantum at once (<see cref="MachineMemory.PressureFrames"/>) and
/// the reclaimer runs at its safepoint. Only guests running at once that together take the other half of
/// the reserve before any of them reaches a safepoint run out ("out of machine memory").
/// </summary>
/// <remarks>
/// <para>
/// Whose frames: first those of guests that have stopped (nothing runs them any more), then of the guests
/// holding more private frames than their share of the pool (the pool less the reserve, over the guests still
/// running), the furthest above it first, down to their share; and if that is not enough (frames on shared
/// frames are nobody's share), the largest give more. In a parallel run only the guest at its safepoint can be
/// touched (the others may be running), so there it gives from its own frames; in a deterministic run every
/// guest is stopped at every safepoint, so any may give. Within a guest,
/// <see cref="ClockReclaimer"/> chooses. Sharing comes first: it runs before this at each safepoint.
/// </para>
/// <para>
/// A swap write that fails stops the guest whose frame it was, with the reason, and no frame is lost.
/// </para>
/// </remarks>
public sealed class MemoryReclaimer
{
    private readonly MachineMemory _machine;
    private readonly SwapSpace _swap;
    private readonly bool _everyGuestStopped;
    private readonly List<(Vm Vm, ClockReclaimer Clock)> _guests = new();
    private readonly object _lock = new();

    /// <param name="machine">The pool.</param>
    /// <param name="swap">Where frames go.</param>
    /// <param name="reserveFrames">Free frames to keep for the guests' quanta.</param>
    /// <param name="everyGuestStopped">True when every guest is stopped at every safepoint (the deterministic scheduler).</param>
    public MemoryReclaimer(MachineMemory machine, SwapSpace swap, long reserveFrames, bool everyGuestStopped)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(swap);
        if (reserveFrames < 1 || reserveFrames >= machine.CapFrames)
            throw new ArgumentOutOfRangeException(nameof(reserveFrames), reserveFrames, "the reserve must be at least one frame and less than the pool");
        _machine = machine;
        _swap = swap;
        ReserveFrames = reserveFrames;
        _everyGuestStopped = everyGuestStopped;
        // Half the reserve gone: the guest that takes the next frame ends its quantum, and the reclaimer runs.
        machine.PressureFrames = machine.CapFrames - reserveFrames / 2;
    }

    /// <summary>The reserve a machine of <paramref name="capFrames"/> keeps: an eighth of it, from 64 frames to 32 MiB.</summary>
    public static long DefaultReserve(long capFrames) => Math.Clamp(capFrames / 8, Math.Min(64, capFrames / 2), 8192);

    public long ReserveFrames { get; }

    public SwapSpace Swap => _swap;

    /// <summary>Times the reclaimer ran (a safepoint found the reserve short).</summary>
    public long Runs { get; private set; }

    /// <summary>Safepoints that found the reserve short and could take nothing (every guest at or below its share, or the swap full).</summary>
    public long Shortfalls { get; private set; }

    /// <summary>Adds a guest: its frames may now be swapped out, and its accesses bring them back.</summary>
    public void Add(Vm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        vm.Memory.Swap = _swap;
        lock (_lock)
            _guests.Add((vm, new ClockReclaimer(vm.Memory, vm.Shadow)));
    }

    /// <summary>The guest's clock, for statistics.</summary>
    public ClockReclaimer ClockOf(Vm vm)
    {
        lock (_lock)
            return _guests.First(g => g.Vm == vm).Clock;
    }

    /// <summary>On <paramref name="vm"/>'s thread between its quanta: swap out what the reserve needs.</summary>
    public void BetweenQuanta(Vm vm)
    {
        long limit = _machine.CapFrames - ReserveFrames;
        if (_machine.FramesInUse <= limit)
            return;
        lock (_lock)
        {
            long target = limit - ReserveFrames / 4;
            if (_machine.FramesInUse <= limit)
                return;
            Runs++;
            long before = _machine.FramesInUse;
            foreach (var (guest, clock) in _guests)
            {
                if (_machine.FramesInUse <= target)
                    break;
                if (guest.Exit != null && guest.Memory.FrameCount > 0)
                    Take(guest, clock, _machine.FramesInUse - target);
            }

            // Those above their share give down to it, the furthest above first; if that is not enough (shared
            // frames are nobody's share), the largest give whatever else is needed.
            long running = _guests.Count(g => g.Vm.Exit == null);
            long share = running == 0 ? limit : limit / running;
            var givers = _guests.Where(g => g.Vm.Exit == null && (_everyGuestStopped || g.Vm == vm))
                .OrderByDescending(g => g.Vm.Memory.PrivateFrames).ToList();
            foreach (long floor in (long[])[share, 0])
            {
                foreach (var (guest, clock) in givers)
                {
                    long want = Math.Min(_machine.FramesInUse - target, guest.Memory.PrivateFrames - floor);
                    if (want > 0)
                        Take(guest, clock, want);
                }
            }

            if (_machine.FramesInUse >= before)
                Shortfalls++;
        }
    }

    private void Take(Vm guest, ClockReclaimer clock, long frames)
    {
        try
        {
            clock.Reclaim((int)Math.Min(frames, int.MaxValue), _swap);
        }
        catch (IOException e)
        {
            guest.Abort(VmExitKind.OutOfMemory, $"out of machine memory: cannot write to the swap file '{_swap.Name}': {e.Message}");
        }
    }
}

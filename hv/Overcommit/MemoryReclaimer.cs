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
/// Ballooning (when on) comes between sharing and swap. Each guest gets a <see cref="BalloonDevice"/> and an
/// <see cref="IdleMemorySampler"/> (sampled at its own safepoints). Once the free frames fall below the reserve,
/// the balloon targets grow by what is missing (and a quarter of the reserve more), shared out by
/// <see cref="BalloonPolicy"/>; the guests' drivers give their free pages at their next timer ticks. Swap then
/// waits until half the reserve is gone, and takes only what the balloons did not give in time. A balloon that
/// stays below its target for two timer ticks of its guest gave what it could: its target comes down to its size,
/// so the others are asked instead. Once more than twice the reserve is free again, targets come down
/// (the guests' balloons deflate, which costs nothing until they write the frames again).
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
    private readonly bool _ballooning;
    private readonly double _taxRate;
    private readonly List<(Vm Vm, ClockReclaimer Clock)> _guests = new();
    private readonly Dictionary<Vm, GuestBalloon> _balloons = new();
    private readonly object _lock = new();

    /// <summary>A guest's balloon, the sampler of its idle memory, and the guest time its target last grew.</summary>
    private sealed class GuestBalloon(BalloonDevice device, IdleMemorySampler sampler)
    {
        public BalloonDevice Device { get; } = device;
        public IdleMemorySampler Sampler { get; } = sampler;
        public long RaisedAt { get; set; }
    }

    /// <summary>The most of a guest's frames its balloon is asked for (ESX's default limit, 65%).</summary>
    public const double MaxBalloonShare = 0.65;

    /// <param name="machine">The pool.</param>
    /// <param name="swap">Where frames go.</param>
    /// <param name="reserveFrames">Free frames to keep for the guests' quanta.</param>
    /// <param name="everyGuestStopped">True when every guest is stopped at every safepoint (the deterministic scheduler).</param>
    /// <param name="ballooning">Give each guest a balloon device, and ask the balloons before swapping.</param>
    /// <param name="taxRate">The idle-memory tax rate of the balloon policy.</param>
    public MemoryReclaimer(MachineMemory machine, SwapSpace swap, long reserveFrames, bool everyGuestStopped,
        bool ballooning = false, double taxRate = BalloonPolicy.DefaultTaxRate)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(swap);
        if (reserveFrames < 1 || reserveFrames >= machine.CapFrames)
            throw new ArgumentOutOfRangeException(nameof(reserveFrames), reserveFrames, "the reserve must be at least one frame and less than the pool");
        _machine = machine;
        _swap = swap;
        ReserveFrames = reserveFrames;
        _everyGuestStopped = everyGuestStopped;
        _ballooning = ballooning;
        _taxRate = taxRate;
        // Swap takes over where the balloons' part of the reserve ends; past the next quarter, the guest that
        // takes the next frame ends its quantum, and the reclaimer runs.
        SwapLimit = machine.CapFrames - (ballooning ? reserveFrames / 2 : reserveFrames);
        machine.PressureFrames = machine.CapFrames - (ballooning ? reserveFrames / 4 : reserveFrames / 2);
    }

    /// <summary>True when the guests have balloons, asked before swap.</summary>
    public bool Ballooning => _ballooning;

    /// <summary>Machine frames in use above which frames are swapped out.</summary>
    public long SwapLimit { get; }

    /// <summary>Times the balloon targets were changed.</summary>
    public long BalloonRetargets { get; private set; }

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
        {
            _guests.Add((vm, new ClockReclaimer(vm.Memory, vm.Shadow)));
            if (_ballooning)
            {
                var device = new BalloonDevice(vm.Memory);
                device.Attach(vm.Io);
                // A tenth of a second of the guest's virtual time per sample period.
                var sampler = new IdleMemorySampler(vm.Memory, vm.Shadow, Math.Max(1, vm.Config.InstructionsPerSecond / 10), vm.Config.Id);
                _balloons.Add(vm, new GuestBalloon(device, sampler));
            }
        }
    }

    /// <summary>The guest's balloon device, or null without ballooning.</summary>
    public BalloonDevice? BalloonOf(Vm vm)
    {
        lock (_lock)
            return _balloons.TryGetValue(vm, out GuestBalloon? b) ? b.Device : null;
    }

    /// <summary>The guest's idle-memory estimate, or null without ballooning.</summary>
    public IdleMemorySampler? SamplerOf(Vm vm)
    {
        lock (_lock)
            return _balloons.TryGetValue(vm, out GuestBalloon? b) ? b.Sampler : null;
    }

    /// <summary>Frames the balloons gave back to the machine over the run.</summary>
    public long BalloonedFrames
    {
        get
        {
            lock (_lock)
                return _balloons.Values.Sum(b => b.Device.FramesReturned);
        }
    }

    /// <summary>The guest's clock, for statistics.</summary>
    public ClockReclaimer ClockOf(Vm vm)
    {
        lock (_lock)
            return _guests.First(g => g.Vm == vm).Clock;
    }

    /// <summary>On <paramref name="vm"/>'s thread between its quanta: with balloons, sample its idle memory and move the targets; then swap out what the reserve needs.</summary>
    public void BetweenQuanta(Vm vm)
    {
        if (_ballooning)
            Reballoon(vm);
        long limit = SwapLimit;
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

    /// <summary>Samples <paramref name="vm"/>'s idle memory, then moves the balloon targets when the free frames call for it.</summary>
    private void Reballoon(Vm vm)
    {
        GuestBalloon own;
        lock (_lock)
            own = _balloons[vm];
        own.Sampler.AtSafepoint(vm.Instructions);
        long limit = _machine.CapFrames - ReserveFrames;
        long used = _machine.FramesInUse;
        bool plenty = used < _machine.CapFrames - 2 * ReserveFrames;
        if (used <= limit && !plenty)
            return;
        lock (_lock)
        {
            var running = _guests.Where(g => g.Vm.Exit == null).Select(g => g.Vm).ToList();
            // Frames asked for and not given yet will come; a balloon that gave nothing for two ticks gave what it could.
            long outstanding = 0;
            foreach (Vm guest in running)
            {
                GuestBalloon b = _balloons[guest];
                long missing = b.Device.Target - b.Device.Size;
                if (missing <= 0)
                    continue;
                if (guest.Instructions - b.RaisedAt > 2 * guest.Config.InstructionsPerSecond / 100)
                    b.Device.Target = b.Device.Size;
                else
                    outstanding += missing;
            }

            // Short: down to a quarter of the reserve below the limit. Plenty: give back until one and a half reserves are free.
            long frames = used > limit
                ? used - outstanding - (limit - ReserveFrames / 4)
                : -(_machine.CapFrames - 3 * ReserveFrames / 2 - used);
            if ((used > limit && frames <= 0) || (frames < 0 && running.All(g => _balloons[g].Device.Target == 0)))
                return;
            var clients = running.Select(g =>
            {
                GuestBalloon b = _balloons[g];
                return new BalloonClient(g.Config.EffectiveShares, g.Memory.PrivateFrames, b.Sampler.ActiveFraction, b.Device.Target,
                    (long)(g.Memory.FrameCount * MaxBalloonShare));
            }).ToList();
            long[] targets = BalloonPolicy.Retarget(clients, frames, _taxRate);
            bool moved = false;
            for (int i = 0; i < running.Count; i++)
            {
                GuestBalloon b = _balloons[running[i]];
                if (targets[i] == b.Device.Target)
                    continue;
                if (targets[i] > b.Device.Target)
                    b.RaisedAt = running[i].Instructions;
                b.Device.Target = targets[i];
                moved = true;
            }

            if (moved)
                BalloonRetargets++;
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

using System.Diagnostics;

namespace MiniHv.Cpu;

/// <summary>
/// Exclusive sections for the processors of one machine when each runs on a host thread of its own: code that
/// assumes one processor at a time (the machine's MMU, devices, memory bookkeeping, and the direct calls it makes
/// into other processors: TLB flushes, dropped code, interrupt requests) runs inside a section, and a section starts
/// only once every other member is parked. A member is parked at a block boundary of <see cref="Cpu.Run"/>, or
/// while it waits to enter a section itself, or whenever its thread is outside <see cref="Cpu.Run"/>
/// (<see cref="Join"/> and <see cref="Leave"/> bracket a run). A TLB hit never comes here.
/// </summary>
/// <remarks>
/// While <see cref="Enabled"/> is false (one thread runs every member, the members taking turns), every call is a
/// no-op. A member's own state (its registers, TLB, code cache, local APIC) is touched by other threads only inside
/// a section, so only while it is parked.
/// </remarks>
public sealed class ExclusiveGate
{
    private readonly object _lock = new();
    private readonly List<Cpu> _members = new();

    // Members whose threads are inside Run and not parked.
    private int _running;

    // 1 from the moment a thread holds the lock until it leaves its section: running members park on it.
    private int _requested;
    private int _ownerThread;
    private int _depth;

    // Set while no section is requested (parked members block on it); set when the last running member parks
    // (the requester blocks on it). After a short spin, waiters block, so on a host with fewer free cores than
    // threads the thread they wait for gets the core.
    private readonly ManualResetEventSlim _released = new(true);
    private readonly ManualResetEventSlim _allParked = new(false);

    /// <summary>Members run on threads of their own: sections are taken. Set only while no member runs.</summary>
    public bool Enabled { get; set; }

    /// <summary>Sections entered by a thread not already in one (how often the members were stopped).</summary>
    public long Sections { get; private set; }

    internal bool Requested => Volatile.Read(ref _requested) != 0;

    internal void Add(Cpu cpu) => _members.Add(cpu);

    /// <summary>The thread that runs <paramref name="cpu"/> is about to run it: it waits for a section in progress to end.</summary>
    public void Join(Cpu cpu)
    {
        if (!Enabled)
            return;
        if (!TryJoinRunning())
        {
            long start = Stopwatch.GetTimestamp();
            JoinRunning();
            cpu.ParkedTicks += Stopwatch.GetTimestamp() - start;
        }

        cpu.GateJoined = true;
    }

    /// <summary>The thread that runs <paramref name="cpu"/> is done running it for now: it counts as parked.</summary>
    public void Leave(Cpu cpu)
    {
        if (!Enabled || !cpu.GateJoined)
            return;
        cpu.GateJoined = false;
        StopRunning();
    }

    /// <summary>
    /// Start a section for the thread that runs <paramref name="cpu"/>: wait for the lock, then for every other
    /// member to park. Sections nest on one thread.
    /// </summary>
    public void Enter(Cpu cpu)
    {
        if (!Enabled)
            return;
        int me = Environment.CurrentManagedThreadId;
        if (_ownerThread == me)
        {
            _depth++;
            return;
        }

        long asked = Stopwatch.GetTimestamp();
        if (cpu.GateJoined)
            StopRunning(); // waiting for the lock counts as parked
        Monitor.Enter(_lock);
        _ownerThread = me;
        _depth = 1;
        Sections++;
        cpu.ExclusiveSections++;
        _allParked.Reset();
        _released.Reset();
        Interlocked.Exchange(ref _requested, 1);
        var spin = new SpinWait();
        while (Volatile.Read(ref _running) > 0)
        {
            // End every running chain at its next instruction: the member then sees the request at the block boundary.
            // Again on every look, since a member may have cleared the flag at its chain's end just as it was set.
            foreach (Cpu member in _members)
            {
                if (member != cpu)
                    member.AbortBlock = true;
            }

            if (!spin.NextSpinWillYield)
                spin.SpinOnce(sleep1Threshold: -1);
            else
                _allParked.Wait(WaitSlice);
        }

        cpu.SectionWaitTicks += Stopwatch.GetTimestamp() - asked;
    }

    // How long a blocked waiter sleeps before it looks again (a safety net: a wake-up is always signalled).
    private static readonly TimeSpan WaitSlice = TimeSpan.FromMilliseconds(1);

    /// <summary>End the section <see cref="Enter"/> started (the outermost one releases the members).</summary>
    public void Exit(Cpu cpu)
    {
        if (!Enabled)
            return;
        if (--_depth > 0)
            return;
        // Running again before the lock goes: the next section waits for this thread to park, so nothing it got inside
        // (a translation, a host address) can change before it uses it.
        if (cpu.GateJoined)
            Interlocked.Increment(ref _running);
        _ownerThread = 0;
        Volatile.Write(ref _requested, 0);
        _released.Set();
        Monitor.Exit(_lock);
    }

    /// <summary>At a block boundary of a joined member: park while a section is requested or in progress.</summary>
    internal void Park(Cpu cpu)
    {
        long start = Stopwatch.GetTimestamp();
        StopRunning();
        WaitForRelease();
        JoinRunning();
        cpu.ParkedTicks += Stopwatch.GetTimestamp() - start;
    }

    // This thread no longer counts as running; the last one to stop while a section waits wakes its requester.
    private void StopRunning()
    {
        if (Interlocked.Decrement(ref _running) == 0 && Volatile.Read(ref _requested) != 0)
            _allParked.Set();
    }

    // Count this thread as running if no section is requested; else leave it parked and say so (as JoinRunning's
    // first try, without the wait).
    private bool TryJoinRunning()
    {
        Interlocked.Increment(ref _running);
        if (Interlocked.CompareExchange(ref _requested, 0, 0) == 0)
            return true;
        StopRunning();
        return false;
    }

    // Count this thread as running, unless a section is requested: then wait for it to end and try again. The
    // increment comes before the check (both full fences), so a requester either sees this thread or is seen by it.
    private void JoinRunning()
    {
        while (true)
        {
            Interlocked.Increment(ref _running);
            if (Interlocked.CompareExchange(ref _requested, 0, 0) == 0)
                return;
            StopRunning();
            WaitForRelease();
        }
    }

    private void WaitForRelease()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _requested) != 0)
        {
            if (!spin.NextSpinWillYield)
                spin.SpinOnce(sleep1Threshold: -1);
            else
                _released.Wait(WaitSlice);
        }
    }
}

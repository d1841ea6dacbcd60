using System.Diagnostics;
using System.Runtime.ExceptionServices;
using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// The run loop of a multiprocessor guest whose processors run at the same time, each on a host thread of its own
/// (<see cref="ProcessorThreads"/>: the parallel scheduler). A quantum is one round: the boot processor runs on the
/// caller's thread and every other processor on a worker thread of the guest, each until its own clock reaches the
/// round's end, and the round ends when all have (so between two quanta every processor is stopped, as the sharing
/// engine and the safepoints expect). Within a round the clocks drift apart; the PIT and the other shared timers
/// follow the latest one (they never go back), and each local APIC timer its own processor's clock.
/// </summary>
/// <remarks>
/// Everything of the hypervisor's that assumes one processor at a time runs in an exclusive section of the CPU
/// group's <see cref="ExclusiveGate"/>, entered through <see cref="ExclusiveMmu"/>, <see cref="ExclusiveMemory"/>,
/// <see cref="ExclusiveIoBus"/>, the fault observer and the CPU group's code tracking, and by this loop between two
/// runs of a processor; the section makes its processor the active one. A halted processor lets the others run and
/// follows the latest clock up to its own next timer event, waking early when a section gave it something to run;
/// when no other processor can run it skips ahead as a turn would. A processor spinning on PAUSE yields its host
/// thread and goes on. The guest stops as a whole: the first processor to stop it ends the round for all.
/// </remarks>
public sealed partial class Vm
{
    private Thread[]? _workers;
    private SemaphoreSlim[]? _workerGo;
    private CountdownEvent? _workersDone;
    private volatile bool _workersQuit;
    private Exception? _workerFailure;
    private long _roundEnd;
    private long _roundReleasedAt;
    private VmRunState? _roundStop;

    /// <summary>
    /// A multiprocessor guest's processors run at the same time on host threads of their own (the parallel
    /// scheduler), rather than in turns on one (which replays exactly). Set between quanta. A guest with a debugger
    /// attached always takes turns.
    /// </summary>
    public bool ProcessorThreads { get; set; }

    /// <summary>The current quantum runs the processors on threads of their own: the hypervisor's paths take exclusive sections.</summary>
    internal bool ThreadedRound { get; private set; }

    /// <summary>Exclusive sections entered (each stopped every other running processor), over the guest's life.</summary>
    public long ExclusiveSections => _group?.Gate.Sections ?? 0;

    /// <summary>Enter the guest's exclusive section for <paramref name="p"/>'s thread and make it the active processor.</summary>
    internal void EnterExclusive(VirtualCpu p)
    {
        _group!.Gate.Enter(p.Cpu);
        if (!p.WaitingForStartup)
            Activate(p); // one waiting for STARTUP runs nothing: the shadows need not hear of it (its paging is off)
    }

    /// <summary>
    /// Leave the section <see cref="EnterExclusive"/> entered, waking the idle processors that now have something to
    /// run (an interrupt, an NMI, a STARTUP) or no busy processor left to follow; the others look again at their
    /// next timeout, without stopping everyone for nothing.
    /// </summary>
    internal void ExitExclusive(VirtualCpu p)
    {
        foreach (VirtualCpu q in _processors)
        {
            if (q.Idling && (CanRun(q) || q.PendingStartup != null || !OtherProcessorBusy(q)))
                q.Wake.Set();
        }

        _group!.Gate.Exit(p.Cpu);
    }

    /// <summary>Run <paramref name="action"/> in the exclusive section when the processors run on threads, else at once.</summary>
    internal void WithExclusive(VirtualCpu p, Action action)
    {
        using var section = new ExclusiveScope(this, p);
        action();
    }

    private VmRunState RunProcessorsThreaded(long quantum)
    {
        if (_stopRequested)
            return Finish(VmExitKind.Stopped, "stopped");
        if (Config.Timeout is TimeSpan limit && _wallClock.Elapsed >= limit)
            return Finish(VmExitKind.TimeLimit, $"time limit of {limit.TotalSeconds:0.###} s reached");
        if (Config.MaxInstructions is long max && Instructions >= max)
            return Finish(VmExitKind.InstructionLimit, $"instruction limit of {max} reached");

        Serial.Poll();
        if (AllIdle())
        {
            if (AllHaltedForGood())
                return Finish(VmExitKind.HaltedForever, $"every processor halted with interrupts disabled (the boot processor at eip {Cpu.Eip:x8})");
            bool timer = false;
            foreach (VirtualCpu p in _processors)
            {
                if (!p.WaitingForStartup && !p.HaltedForGood && TimerWakeup(p) != long.MaxValue)
                    timer = true;
            }

            if (!timer && !Serial.HasPendingInput)
            {
                if (_inputClosed)
                    return Finish(VmExitKind.HaltedForever,
                        $"every processor halted waiting for an interrupt, with no timer running and no input to come (the boot processor at eip {Cpu.Eip:x8})");
                return VmRunState.WaitingForInput;
            }
        }

        StartWorkers();
        long end = _roundStart + quantum;
        _roundEnd = end;
        _roundStop = null;
        _workerFailure = null;
        foreach (VirtualCpu p in _processors)
        {
            p.Idling = false;
            p.RoundDone = false;
        }

        _group!.Gate.Enabled = true;
        ThreadedRound = true;
        _workersDone!.Reset(_processors.Length - 1);
        _roundReleasedAt = Stopwatch.GetTimestamp();
        for (int i = 1; i < _processors.Length; i++)
            _workerGo![i].Release();
        Exception? failure = null;
        try
        {
            RunOnOwnThread(_processors[0], end);
        }
        catch (Exception e)
        {
            failure = e;
            StopRound(null);
        }

        _workersDone.Wait();
        long roundEnded = Stopwatch.GetTimestamp();
        foreach (VirtualCpu p in _processors)
            p.BarrierTicks += roundEnded - p.RoundDoneAt;
        ThreadedRound = false;
        _group.Gate.Enabled = false;
        failure ??= _workerFailure;
        if (failure != null)
            ExceptionDispatchInfo.Throw(failure);
        if (_roundStop is VmRunState stopped)
            return stopped;
        _roundStart = end;
        return VmRunState.Running;
    }

    /// <summary>One processor's part of a round, on its own thread: run it until its clock reaches <paramref name="end"/> or the guest stops.</summary>
    private void RunOnOwnThread(VirtualCpu p, long end)
    {
        ExclusiveGate gate = _group!.Gate;
        EnterExclusive(p);
        try
        {
            while (!p.RoundDone)
                Step(p, end, gate);
        }
        finally
        {
            p.RoundDone = true;
            ExitExclusive(p);
            p.RoundDoneAt = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>In the section: one run of the processor (left and entered again around it), or one wait while it idles.</summary>
    private void Step(VirtualCpu p, long end, ExclusiveGate gate)
    {
        if (_roundStop != null || _workersQuit)
        {
            p.RoundDone = true;
            return;
        }

        if (p.PendingStartup is byte vector)
        {
            // STARTUP: real mode at vector * 4096, as CS = vector * 256 and IP = 0 (SDM 8.4.4.1).
            p.Cpu.ResetReal(cs: (ushort)(vector << 8), ip: 0, sp: 0);
            p.WaitingForStartup = false;
            p.PendingStartup = null;
            p.Started = true;
            Activate(p); // its mode changed: the shadows hear of it now
        }

        if (p.Clock >= end)
        {
            p.RoundDone = true;
            return;
        }

        if (_stopRequested)
        {
            StopRound(Finish(VmExitKind.Stopped, "stopped"));
            return;
        }

        if (Config.MaxInstructions is long max && Instructions >= max)
        {
            StopRound(Finish(VmExitKind.InstructionLimit, $"instruction limit of {max} reached"));
            return;
        }

        if (!CanRun(p))
        {
            IdleOnOwnThread(p, end);
            return;
        }

        Serial.Poll();
        long chunk = Math.Min(end - p.Clock, Math.Min(Pit.InstructionsUntilNextEvent(), p.Lapic.InstructionsUntilNextEvent()));
        if (Config.MaxInstructions is long limit)
            chunk = Math.Max(1, Math.Min(chunk, limit - Instructions));
        StopReason reason = RunOutsideSection(p, chunk, gate);
        if (_roundStop != null)
        {
            p.RoundDone = true;
            return;
        }

        AdvanceTimers(p);
        switch (reason)
        {
            case StopReason.StopRequested:
                if (AfterStopRequest(p.Cpu, where: $" on CPU {p.Index}") is VmRunState stopped)
                    StopRound(stopped);
                break; // an INIT, a stop request the next step sees, or a reprogrammed timer
            case StopReason.TripleFault:
                StopRound(TripleFaulted(p.Cpu, where: $" on CPU {p.Index}"));
                break;
            case StopReason.Debug:
                StopRound(HoldForDebugger(new Debugging.GuestStop(p.Cpu.LastDebugStop, Interrupted: false, Processor: p.Index)));
                break;
            case StopReason.Unsupported:
                StopRound(Finish(VmExitKind.Unsupported, $"unsupported on CPU {p.Index}: {p.Cpu.UnsupportedReason}", dump: true));
                break;
        }
    }

    /// <summary>
    /// Run the processor for <paramref name="chunk"/> instructions outside the section (entered again before it
    /// returns). A pause loop yields the host thread, parked, and runs on: the holder of the lock runs meanwhile
    /// (when another processor is running at all; else it runs on at once).
    /// </summary>
    private StopReason RunOutsideSection(VirtualCpu p, long chunk, ExclusiveGate gate)
    {
        ExitExclusive(p);
        gate.Join(p.Cpu);
        StopReason reason;
        try
        {
            while (true)
            {
                long before = p.Cpu.InstructionsExecuted;
                reason = p.Cpu.Run(chunk);
                chunk -= p.Cpu.InstructionsExecuted - before;
                if (reason != StopReason.PauseLoop)
                    break;
                if (chunk <= 0)
                {
                    reason = StopReason.Budget;
                    break;
                }

                // Give the core to a lock holder only if one may be running: with every other processor halted or
                // waiting (a delay loop on the timer, a wait for an AP to start), a yield only hands the core to
                // another process, and on a busy host that can take milliseconds each time.
                if (!OtherProcessorBusy(p))
                    continue;
                gate.Leave(p.Cpu);
                Thread.Yield();
                gate.Join(p.Cpu);
            }
        }
        finally
        {
            gate.Leave(p.Cpu);
            EnterExclusive(p);
        }

        return reason;
    }

    /// <summary>
    /// In the section, for a processor that cannot run now (halted, waiting for STARTUP): with no other processor
    /// able to run, skip to its next timer event as a turn would; else follow the latest clock up to that event, and
    /// wait outside the section until a section wakes it or another processor's clock passes that event (looked at
    /// every millisecond without a section).
    /// </summary>
    private void IdleOnOwnThread(VirtualCpu p, long end)
    {
        long clock = p.Clock;
        long wake = p.WaitingForStartup || p.HaltedForGood ? long.MaxValue : TimerWakeup(p);
        if (!OtherProcessorBusy(p))
        {
            Idle(p, Math.Min(end - clock, wake));
            return;
        }

        long due = wake == long.MaxValue ? long.MaxValue : clock + wake;
        long latest = Math.Min(end, LatestClock());
        if (latest > clock)
        {
            Idle(p, Math.Min(latest - clock, wake));
            if (CanRun(p) || p.Clock >= end)
                return;
        }

        p.Idling = true;
        p.Wake.Reset();
        ExitExclusive(p); // an idler whose last busy neighbour this was can skip ahead now
        long start = Stopwatch.GetTimestamp();
        try
        {
            // Every millisecond, look at the others' clocks without stopping them: the section (which parks every
            // busy processor) is taken only once one may have reached this one's timer event. A section that gives it
            // something to run, the others' end of the round and a stop wake it at once.
            while (!p.Wake.Wait(TimeSpan.FromMilliseconds(1)) && RetiredClockOfOthers(p) < due)
            {
            }
        }
        finally
        {
            p.IdleWaitTicks += Stopwatch.GetTimestamp() - start;
            EnterExclusive(p);
            p.Idling = false;
        }

        // Follow the time the others ran while this one slept (up to its timer event and the round's end), as the
        // look before the sleep did: whatever woke it (an interrupt, a STARTUP) finds its clock where theirs is.
        long caughtUp = Math.Min(Math.Min(end, LatestClock()), due);
        if (caughtUp > p.Clock)
            Idle(p, caughtUp - p.Clock);
    }

    /// <summary>The processor has something to run: not halted, or halted with an interrupt or NMI to take.</summary>
    private static bool CanRun(VirtualCpu p)
    {
        if (p.WaitingForStartup)
            return false;
        if (!p.Cpu.IsHalted || p.Cpu.HasPendingNmi)
            return true;
        return (p.Cpu.Eflags & MiniHv.Cpu.Cpu.IF) != 0 && p.Lapic.HasPendingInterrupt;
    }

    /// <summary>Some processor other than <paramref name="p"/> is still running its part of the round.</summary>
    private bool OtherProcessorBusy(VirtualCpu p)
    {
        foreach (VirtualCpu q in _processors)
        {
            if (q != p && !q.Idling && !q.RoundDone)
                return true;
        }

        return false;
    }

    /// <summary>
    /// Outside a section: the latest clock of the processors other than <paramref name="p"/>, as far as their threads
    /// have retired instructions (a hint, read while they run: the section looks again exactly).
    /// </summary>
    private long RetiredClockOfOthers(VirtualCpu p)
    {
        long latest = 0;
        foreach (VirtualCpu q in _processors)
        {
            if (q != p)
                latest = Math.Max(latest, q.Cpu.InstructionsExecuted + q.Cpu.HaltedInstructions); // a long read is atomic on a 64-bit host
        }

        return latest;
    }

    /// <summary>The latest clock of the guest's processors (exact in a section: the others are parked).</summary>
    private long LatestClock()
    {
        long latest = 0;
        foreach (VirtualCpu q in _processors)
            latest = Math.Max(latest, q.Clock);
        return latest;
    }

    /// <summary>In the section: the guest stops (or the quantum ends early) with <paramref name="state"/>; every processor leaves the round.</summary>
    private void StopRound(VmRunState? state)
    {
        _roundStop ??= state ?? VmRunState.Exited;
        foreach (VirtualCpu q in _processors)
        {
            q.Cpu.RequestStop();
            q.Wake.Set();
        }
    }

    /// <summary>The guest's worker threads, one per application processor, started on the first threaded quantum.</summary>
    private void StartWorkers()
    {
        if (_workers != null)
            return;
        int n = _processors.Length;
        _workers = new Thread[n];
        _workerGo = new SemaphoreSlim[n];
        _workersDone = new CountdownEvent(n - 1);
        for (int i = 1; i < n; i++)
        {
            VirtualCpu p = _processors[i];
            SemaphoreSlim go = _workerGo[i] = new SemaphoreSlim(0);
            _workers[i] = new Thread(() => WorkerLoop(p, go))
            {
                IsBackground = true,
                Name = $"{Name} cpu {i}",
            };
            _workers[i].Start();
        }
    }

    private void WorkerLoop(VirtualCpu p, SemaphoreSlim go)
    {
        while (true)
        {
            go.Wait();
            if (_workersQuit)
                return;
            p.BarrierTicks += Stopwatch.GetTimestamp() - _roundReleasedAt;
            try
            {
                RunOnOwnThread(p, _roundEnd);
            }
            catch (Exception e)
            {
                // A defect of ours: the caller's thread rethrows it once the round is over, and Run stops the guest.
                _workerFailure ??= e;
                foreach (VirtualCpu q in _processors)
                    q.Cpu.RequestStop();
                _roundStop ??= VmRunState.Exited;
            }
            finally
            {
                _workersDone!.Signal();
            }
        }
    }

    /// <summary>End the worker threads (the guest is being disposed; no round is running).</summary>
    private void StopWorkers()
    {
        if (_workers == null)
            return;
        _workersQuit = true;
        for (int i = 1; i < _workers.Length; i++)
            _workerGo![i].Release();
        for (int i = 1; i < _workers.Length; i++)
            _workers[i].Join();
    }
}

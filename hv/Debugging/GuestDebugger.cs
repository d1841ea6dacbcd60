using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Debugging;

/// <summary>Where a debugged guest is: running, stopped for the debugger (and why), or gone.</summary>
public enum DebugState
{
    Running,
    Stopped,
    Exited,
}

/// <summary>Why a debugged guest stopped: a CPU trap, an interrupt from the debugger, or the freeze before the first instruction.</summary>
public readonly record struct GuestStop(DebugStop Trap, bool Interrupted, int Processor = 0);

/// <summary>
/// The bridge between one guest and a debugger front end (the gdb stub) on another thread. The guest's own
/// thread does everything that touches the guest: the front end's requests are queued and run by
/// <see cref="Vm.Run"/> while the guest is stopped, so they never race the CPU, a scheduler's safepoint or the
/// sharing engine. A stopped guest makes <see cref="Vm.Run"/> return at once, so the scheduler goes on with
/// the other guests and comes back when it is woken (a request or a resume sets the guest's wait handle).
/// </summary>
public sealed class GuestDebugger
{
    private readonly object _gate = new();
    private readonly Queue<Action> _requests = new();
    private readonly HashSet<uint> _breakpoints = new();
    private readonly List<Watchpoint> _watchpoints = new();
    private bool _trapsChanged;
    private bool _resume;
    private bool _step;
    private volatile bool _interrupt;

    /// <param name="vm">The guest to debug.</param>
    /// <param name="startStopped">Hold the guest before its first instruction (QEMU's -S).</param>
    public GuestDebugger(Vm vm, bool startStopped)
    {
        ArgumentNullException.ThrowIfNull(vm);
        Vm = vm;
        State = startStopped ? DebugState.Stopped : DebugState.Running;
        LastStop = new GuestStop(default, Interrupted: true);
    }

    public Vm Vm { get; }

    public DebugState State { get; private set; }

    /// <summary>Why the guest last stopped.</summary>
    public GuestStop LastStop { get; private set; }

    /// <summary>Raised on the guest's thread when it stops for the debugger or exits.</summary>
    public event Action<DebugState>? StateChanged;

    // ---- From the front end's thread -------------------------------------------------------

    /// <summary>Ask a running guest to stop (gdb's Ctrl-C); it stops at the next instruction boundary. Thread-safe.</summary>
    public void Interrupt()
    {
        lock (_gate)
        {
            if (State != DebugState.Running)
                return;
            _interrupt = true;
        }

        foreach (VirtualCpu p in Vm.Processors)
            p.Cpu.RequestStop();
        Vm.Wake();
    }

    /// <summary>Let a stopped guest go on, for one instruction when <paramref name="step"/>. Thread-safe.</summary>
    public void Resume(bool step)
    {
        lock (_gate)
        {
            if (State != DebugState.Stopped)
                return;
            _resume = true;
            _step = step;
            _interrupt = false;
            State = DebugState.Running;
        }

        Vm.Wake();
    }

    /// <summary>Wait until the guest is stopped or gone, or the timeout passes; the state then.</summary>
    public DebugState WaitForStop(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (State == DebugState.Running)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left))
                    break;
            }

            return State;
        }
    }

    /// <summary>
    /// Run <paramref name="request"/> on the guest's thread while the guest is stopped and wait for its
    /// result. Null when the guest is not stopped (running, or gone), does not come back to it in time, or
    /// the request failed (a write for which the machine had no frame).
    /// </summary>
    public T? Inspect<T>(Func<Vm, T> request, TimeSpan? timeout = null)
        where T : class
    {
        T? result = null;
        bool done = false;
        lock (_gate)
        {
            if (State != DebugState.Stopped)
                return null;
            _requests.Enqueue(() =>
            {
                T? value;
                try
                {
                    value = request(Vm);
                }
                catch (Exception e) when (e is MachineMemoryExhaustedException or ArgumentException or InvalidOperationException)
                {
                    value = null; // a write that needed a frame the pool does not have: the debugger gets an error, the guest goes on
                }

                lock (_gate)
                {
                    result = value;
                    done = true;
                    Monitor.PulseAll(_gate);
                }
            });
        }

        Vm.Wake();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        lock (_gate)
        {
            while (!done && State == DebugState.Stopped)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    return null;
                Monitor.Wait(_gate, left);
            }

            return result;
        }
    }

    /// <summary>Add or remove a breakpoint at a linear address (applied to the CPU on the guest's thread).</summary>
    public void SetBreakpoint(uint linear, bool present)
    {
        lock (_gate)
        {
            if (present)
                _breakpoints.Add(linear);
            else
                _breakpoints.Remove(linear);
            _trapsChanged = true;
        }
    }

    /// <summary>Add or remove a watchpoint.</summary>
    public void SetWatchpoint(Watchpoint watch, bool present)
    {
        lock (_gate)
        {
            if (present)
            {
                if (!_watchpoints.Contains(watch))
                    _watchpoints.Add(watch);
            }
            else
            {
                _watchpoints.Remove(watch);
            }

            _trapsChanged = true;
        }
    }

    /// <summary>Drop every breakpoint and watchpoint (a debugger detaching).</summary>
    public void ClearTraps()
    {
        lock (_gate)
        {
            _breakpoints.Clear();
            _watchpoints.Clear();
            _trapsChanged = true;
        }
    }

    // ---- From the guest's thread (Vm.Run) ----------------------------------------------------

    /// <summary>Called first thing in <see cref="Vm.Run"/>: runs queued requests; true while the guest must stay stopped.</summary>
    internal bool Hold()
    {
        while (true)
        {
            Action? request;
            lock (_gate)
            {
                if (!_requests.TryDequeue(out request))
                {
                    if (_trapsChanged)
                        ApplyTraps();
                    if (_resume)
                    {
                        _resume = false;
                        // The processor that stopped steps; the others run on, as their turns come.
                        MiniHv.Cpu.Cpu stopped = Vm.Processors[LastStop.Processor].Cpu;
                        stopped.SingleStep = _step;
                        stopped.ResumeFromDebugStop();
                    }

                    return State == DebugState.Stopped;
                }
            }

            request();
        }
    }

    /// <summary>True (once) when the front end asked the guest to stop.</summary>
    internal bool TakeInterrupt()
    {
        if (!_interrupt)
            return false;
        _interrupt = false;
        return true;
    }

    /// <summary>The guest stopped for the debugger: on a trap, or interrupted.</summary>
    internal void Stopped(GuestStop stop)
    {
        foreach (VirtualCpu p in Vm.Processors)
            p.Cpu.SingleStep = false;
        lock (_gate)
        {
            LastStop = stop;
            State = DebugState.Stopped;
            Monitor.PulseAll(_gate);
        }

        StateChanged?.Invoke(DebugState.Stopped);
    }

    /// <summary>The guest ended: the front end reports it and has nothing more to ask.</summary>
    internal void Exited()
    {
        lock (_gate)
        {
            State = DebugState.Exited;
            _requests.Clear();
            Monitor.PulseAll(_gate);
        }

        StateChanged?.Invoke(DebugState.Exited);
    }

    private void ApplyTraps()
    {
        _trapsChanged = false;
        foreach (VirtualCpu p in Vm.Processors)
            p.Cpu.SetDebugTraps(_breakpoints.ToArray(), _watchpoints.ToArray());
    }
}

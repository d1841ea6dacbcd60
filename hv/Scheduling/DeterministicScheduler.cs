using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Scheduling;

/// <summary>
/// All guests round-robin on the calling thread, each for a fixed quantum of virtual time in turn, so a
/// run replays bit for bit: the same guests and configuration give the same interleaving every time.
/// A guest held by its debugger sits its turns out while the others go on (so a debugging session, which
/// runs on human time, is not replayable; each guest's own run still is, its time being its instructions).
/// </summary>
public sealed class DeterministicScheduler : IVmScheduler
{
    public const long DefaultQuantum = 100_000;

    public DeterministicScheduler(long quantum = DefaultQuantum)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantum, 1);
        Quantum = quantum;
    }

    /// <summary>Instructions of virtual time each guest runs per turn.</summary>
    public long Quantum { get; }

    /// <summary>Called after every full round, with every guest stopped: the fixed points of a deterministic run.</summary>
    public Action<long>? AfterRound { get; set; }

    public void Run(IReadOnlyList<Vm> vms, CancellationToken cancel, Action<Vm>? safepoint = null)
    {
        using CancellationTokenRegistration stop = cancel.Register(() =>
        {
            foreach (Vm vm in vms)
                vm.RequestStop();
        });

        var live = vms.ToList();
        long round = 0;
        while (live.Count > 0)
        {
            bool progress = false;
            foreach (Vm vm in live.ToArray())
            {
                VmRunState state = vm.Run(Quantum);
                safepoint?.Invoke(vm);
                if (state == VmRunState.Exited)
                    live.Remove(vm);
                else if (state == VmRunState.Running)
                    progress = true;
            }

            AfterRound?.Invoke(++round);
            if (!progress && live.Count > 0)
            {
                // Everyone left waits for input: sleep until some arrives (or input ends, or a stop).
                WaitHandle.WaitAny(live.Select(v => v.InputWaitHandle).ToArray(), TimeSpan.FromMilliseconds(100));
            }
        }
    }
}

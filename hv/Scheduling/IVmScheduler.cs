using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Scheduling;

/// <summary>Runs several guests to their ends in one process; a guest that stops leaves the others running.</summary>
public interface IVmScheduler
{
    /// <summary>
    /// Runs <paramref name="vms"/> until every one has exited. Cancelling asks each to stop, and Run returns
    /// once they have. <paramref name="safepoint"/> is called with a guest whose CPU is stopped between
    /// quanta, on the thread that runs it: the place where its mappings may be changed from outside.
    /// </summary>
    void Run(IReadOnlyList<Vm> vms, CancellationToken cancel, Action<Vm>? safepoint = null);
}

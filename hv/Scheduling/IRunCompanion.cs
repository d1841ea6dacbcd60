using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Scheduling;

/// <summary>
/// Work that runs beside the guests of a parallel run on threads of its own (the sharing scanner), and
/// that gets each guest's thread for a moment between its quanta, with that guest's CPU stopped.
/// </summary>
public interface IRunCompanion
{
    /// <summary>Called once before the first guest runs.</summary>
    void Start();

    /// <summary>
    /// Called on the thread that runs <paramref name="vm"/>, after each of its quanta, with its CPU stopped:
    /// the one place where another thread's requests may change that guest's mappings.
    /// </summary>
    void BetweenQuanta(Vm vm);

    /// <summary>Called once after every guest has stopped; returns when the companion's threads have.</summary>
    void Stop();
}

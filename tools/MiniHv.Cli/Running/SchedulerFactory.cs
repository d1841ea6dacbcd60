using MiniHv.Hv.Machine;
using MiniHv.Hv.Scheduling;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>
/// Builds the run's scheduler and, with sharing on, hooks the sharing engine to its safepoints: between the
/// deterministic scheduler's rounds (at fixed instruction counts, so a run replays), or every few
/// milliseconds with all guests paused in parallel mode.
/// </summary>
internal static class SchedulerFactory
{
    /// <summary>How often the parallel scheduler stops the guests for the engine.</summary>
    public static readonly TimeSpan ParallelScanInterval = TimeSpan.FromMilliseconds(10);

    public static IVmScheduler Create(RunPlan plan, SharingEngine? engine)
    {
        if (plan.Deterministic)
        {
            long quantum = plan.Quantum ?? DeterministicScheduler.DefaultQuantum;
            var scheduler = new DeterministicScheduler(quantum);
            if (engine != null)
            {
                // A round gives each guest one quantum of virtual time: scan what the rate allows for it.
                long ips = plan.Guests[0].InstructionsPerSecond;
                double perRound = (double)plan.ScanRate * quantum / ips;
                long roundsPerFullScan = plan.ScanFullEvery is long every ? Math.Max(1, every / quantum) : 0;
                double owed = 0;
                scheduler.AfterRound = round =>
                {
                    owed += perRound;
                    long frames = (long)owed;
                    owed -= frames;
                    engine.Step(frames);
                    if (roundsPerFullScan > 0 && round % roundsPerFullScan == 0)
                        engine.ScanFully();
                };
            }

            return scheduler;
        }

        var parallel = new ParallelScheduler(plan.Threads, plan.Quantum ?? ParallelScheduler.DefaultQuantum);
        if (engine != null)
            parallel.GlobalSafepoint = (ParallelScanInterval, elapsed => engine.Step((long)(plan.ScanRate * elapsed.TotalSeconds)));
        return parallel;
    }

    /// <summary>The engine for the plan's policy with every guest added (salt groups numbered in order of first use), or null when sharing is off.</summary>
    public static SharingEngine? CreateEngine(RunPlan plan, IReadOnlyList<Vm> vms, Hv.Memory.MachineMemory machine)
    {
        if (plan.Sharing == SharingPolicy.Off)
            return null;
        var engine = new SharingEngine(machine, plan.Sharing);
        var salts = new Dictionary<string, int>();
        foreach (Vm vm in vms)
        {
            string salt = vm.Config.Salt ?? "";
            if (!salts.TryGetValue(salt, out int group))
                salts[salt] = group = salts.Count + 1;
            engine.Add(vm, group);
        }

        return engine;
    }
}

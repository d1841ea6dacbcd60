using MiniHv.Hv.Machine;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Scheduling;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>
/// Builds the run's scheduler and, with sharing on, hooks the sharing engine to it: between the deterministic
/// scheduler's rounds (at fixed instruction counts, so a run replays), or in parallel mode as scanner threads
/// beside the guests, whose merges each guest's thread does between its quanta.
/// </summary>
internal static class SchedulerFactory
{
    public static IVmScheduler Create(RunPlan plan, SharingEngine? engine)
    {
        ScanPacer? pacer = engine == null ? null : new ScanPacer(plan.ScanRate, plan.ScanAuto);
        if (plan.Deterministic)
        {
            long quantum = plan.Quantum ?? DeterministicScheduler.DefaultQuantum;
            var scheduler = new DeterministicScheduler(quantum);
            if (engine != null)
            {
                // A round gives each guest one quantum of virtual time: scan what the rate allows for it.
                long ips = plan.Guests[0].InstructionsPerSecond;
                engine.RoundCompleted += () => pacer!.FullScanEnded(engine.LastRoundFinds);
                long roundsPerFullScan = plan.ScanFullEvery is long every ? Math.Max(1, every / quantum) : 0;
                double owed = 0;
                scheduler.AfterRound = round =>
                {
                    owed += (double)pacer!.Rate * quantum / ips;
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
            parallel.Companion = new SharingScanner(engine, pacer!, plan.ScanThreads);
        return parallel;
    }

    /// <summary>
    /// The swap reclaimer of a run with --machine-memory, every guest added; call its
    /// <see cref="MemoryReclaimer.BetweenQuanta"/> at each safepoint (after sharing's merges).
    /// </summary>
    public static MemoryReclaimer CreateReclaimer(RunPlan plan, IReadOnlyList<Vm> vms, Hv.Memory.MachineMemory machine, SwapSpace swap)
    {
        var reclaimer = new MemoryReclaimer(machine, swap, MemoryReclaimer.DefaultReserve(machine.CapFrames), everyGuestStopped: plan.Deterministic,
            ballooning: plan.Balloon);
        foreach (Vm vm in vms)
            reclaimer.Add(vm);
        return reclaimer;
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

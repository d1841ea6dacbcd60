using System.Text.Json;
using System.Text.Json.Serialization;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Shadow;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Stats;

/// <summary>Builds a run's <see cref="StatsDocument"/> from its guests and writes it as indented JSON.</summary>
internal static class StatsWriter
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <param name="scan">How the scanner ran: its threads (0 when deterministic), whether the rate was auto, and the host
    /// time the guests had (their quanta, or the whole run when deterministic), of which sharing's stalls are a fraction.</param>
    public static StatsDocument Build(IReadOnlyList<Vm> vms, RunInfo run, SharingEngine? engine, long scanRate, FrameCensus census,
        IReadOnlyDictionary<FrameContent, long>? byContent, (int Threads, bool Auto, TimeSpan GuestTime)? scan = null,
        MemoryReclaimer? reclaimer = null)
    {
        var guests = vms.Select((vm, i) => Guest(vm, i + 1, engine, reclaimer)).ToList();
        string version = typeof(StatsWriter).Assembly.GetName().Version?.ToString() ?? "unknown";
        var memory = new MemoryTotals(census.GuestFramesInUse, census.MachineFramesInUse, census.DistinctContents,
            census.PossibleSaving, census.AchievedSaving, census.Efficiency);
        return new StatsDocument(StatsDocument.FormatName, StatsDocument.CurrentVersion, version, DateTimeOffset.UtcNow, run,
            memory, Sharing(vms, engine, scanRate, byContent, scan ?? (0, false, TimeSpan.Zero)), guests, Overcommit(vms, engine, reclaimer));
    }

    private static OvercommitTotals? Overcommit(IReadOnlyList<Vm> vms, SharingEngine? engine, MemoryReclaimer? reclaimer)
    {
        if (reclaimer == null)
            return null;
        SwapSpace s = reclaimer.Swap;
        long machine = vms.Count == 0 ? 0 : vms[0].Memory.Machine.CapFrames;
        long guestFrames = vms.Sum(vm => (long)(vm.Config.MemoryBytes >> MachineMemory.FrameShift));
        long major = vms.Sum(vm => vm.Faults.Counters.MajorHiddenTotal);
        var bySource = new Dictionary<string, long>
        {
            ["sharing"] = engine == null ? 0 : engine.Stats.PagesSharing + engine.Stats.ZeroPages,
            ["balloon"] = reclaimer.BalloonedFrames,
            ["swap"] = s.SwappedOut,
        };
        return new OvercommitTotals(machine, guestFrames, machine > 0 ? (double)guestFrames / machine : 0, reclaimer.ReserveFrames,
            s.CapacitySlots, s.SwappedOut, s.SwappedIn, s.SwapWrites, s.SwapReads, s.ZeroReclaimed, s.ZeroSwapIns, s.SlotsInUse,
            s.PeakSlotsInUse, major, s.SwappedIn > 0 ? s.SwapInTime.TotalMicroseconds / s.SwappedIn : 0, reclaimer.Runs,
            reclaimer.Shortfalls, bySource, s.SharedSwapOuts, s.ResidentSwapIns, reclaimer.Ballooning, reclaimer.BalloonRetargets);
    }

    /// <summary>"KernelText" as "kernel_text", as every key of the file is written.</summary>
    public static string SnakeCase(FrameContent content) => JsonNamingPolicy.SnakeCaseLower.ConvertName(content.ToString());

    private static SharingTotals? Sharing(IReadOnlyList<Vm> vms, SharingEngine? engine, long scanRate, IReadOnlyDictionary<FrameContent, long>? byContent,
        (int Threads, bool Auto, TimeSpan GuestTime) scan)
    {
        if (engine == null)
            return null;
        SharingStats s = engine.Stats;
        // What sharing cost the guests: merges done on their threads (or, deterministic, every scan: all guests wait), and copy-on-write breaks.
        TimeSpan stall = (scan.Threads > 0 ? s.MergeStallTime : s.ScanTime) + vms.Aggregate(TimeSpan.Zero, (t, vm) => t + vm.Memory.CopyOnWriteBreakTime);
        var samples = engine.Samples.Select(x => new SharingSampleStats(x.FullScans, x.Instructions, x.MachineFramesInUse,
            x.GuestFramesInUse, x.DistinctContents, x.PagesShared, x.PagesSharing, x.ZeroPages, x.CowBreaks)).ToList();
        return new SharingTotals(engine.Policy.ToString().ToLowerInvariant(), scanRate, s.PagesShared, s.PagesSharing,
            s.PagesUnshared, s.PagesVolatile, s.FullScans, s.ZeroPages, s.GeneralProfit, s.Merges, s.ZeroMerges, s.CowBreaks, s.ZeroBreaks,
            s.BytesSaved, s.FramesHashed, s.FramesHashedPerSecond, s.HashCollisions, s.ScanTime.TotalSeconds,
            (byContent ?? new Dictionary<FrameContent, long>()).ToDictionary(kv => SnakeCase(kv.Key), kv => kv.Value), samples,
            scan.Threads, scan.Auto, s.ScannerCpuTime.TotalSeconds, s.MergesAbandoned, stall.TotalSeconds, scan.GuestTime.TotalSeconds,
            scan.GuestTime > TimeSpan.Zero ? stall / scan.GuestTime : 0);
    }

    public static void Write(Stream output, StatsDocument document) => JsonSerializer.Serialize(output, document, Json);

    private static GuestStats Guest(Vm vm, int id, SharingEngine? engine, MemoryReclaimer? reclaimer)
    {
        VmExit exit = vm.Exit ?? new VmExit(VmExitKind.Stopped, null, "still running");
        var memory = new GuestMemoryStats(vm.Memory.FrameCount, vm.Memory.PrivateFrames, vm.Memory.ZeroMappedFrames, vm.Memory.ReadOnlyFrames);
        return new GuestStats(id, vm.Name, vm.Config.CommandLine, vm.Config.MemoryBytes, exit.Reason, exit.Message,
            Running.GuestExitStatus.For(exit), vm.Instructions, vm.HostTime.TotalSeconds, memory, GuestSharing(vm, engine), Shadow(vm), Jit(vm),
            reclaimer == null ? null : GuestOvercommit(vm, reclaimer),
            Processors(vm));
    }

    private static GuestOvercommitStats GuestOvercommit(Vm vm, MemoryReclaimer reclaimer)
    {
        var stats = new GuestOvercommitStats(vm.Memory.SwappedFrames, vm.Memory.SwapIns, reclaimer.ClockOf(vm).SecondChances);
        if (reclaimer.BalloonOf(vm) is not BalloonDevice balloon)
            return stats;
        return stats with
        {
            BalloonTarget = balloon.Target,
            BalloonSize = balloon.Size,
            BalloonFramesReturned = balloon.FramesReturned,
            ActiveFraction = reclaimer.SamplerOf(vm)!.ActiveFraction,
            BalloonTouches = vm.Memory.BalloonTouches,
        };
    }

    /// <summary>Per processor, for a guest with more than one; null for a one-processor guest, whose figures are the guest's.</summary>
    private static IReadOnlyList<ProcessorCounters>? Processors(Vm vm) => vm.Processors.Count == 1
        ? null
        : vm.Processors.Select(p => new ProcessorCounters(p.Index, p.Cpu.InstructionsExecuted, p.Cpu.HaltedInstructions, p.Started, p.Cpu.PauseLoopExits,
            p.Cpu.ExclusiveSections, Seconds(p.Cpu.SectionWaitTicks), Seconds(p.Cpu.ParkedTicks), Seconds(p.BarrierTicks),
            Seconds(p.IdleWaitTicks))).ToList();

    private static double Seconds(long stopwatchTicks) => (double)stopwatchTicks / System.Diagnostics.Stopwatch.Frequency;

    private static JitCounters? Jit(Vm vm)
    {
        if (vm.Cpu.Tier != MiniHv.Cpu.CpuTier.Jit)
            return null;
        MiniHv.Cpu.JitStatistics s = vm.Cpu.JitStats;
        return new JitCounters(s.BlocksCompiled, s.BlocksRefused, s.BlocksEvicted, s.CompileSeconds, s.MedianCompileMicroseconds,
            s.InstructionsCompiled, s.CompiledShare, s.ChainsFollowed, s.CompileShareOf(vm.HostTime), s.BlocksReused);
    }

    private static GuestSharingStats? GuestSharing(Vm vm, SharingEngine? engine)
    {
        if (engine == null)
            return null;
        var (onStable, zeroPages, breaks) = engine.GuestCounters(vm.Memory);
        return new GuestSharingStats(onStable, zeroPages, breaks);
    }

    private static ShadowCounters? Shadow(Vm vm)
    {
        if (vm.Shadow is not ShadowMmu mmu)
            return null;
        ShadowStats s = mmu.Stats;
        var hidden = new HiddenFaults(s.PageTableWrites, vm.Memory.ZeroFrameBreaks, vm.Memory.CopyOnWriteBreaks, s.AdUpdates, vm.Memory.SwapIns);
        return new ShadowCounters(vm.Instructions, vm.GuestPageFaults, hidden, s.ShadowFills, s.Cr3Switches, s.Cr3SwitchHits,
            s.Cr3FirstVisits, s.Cr3HitRate, s.Cr3RevisitHitRate, s.ShadowsCreated, s.ShadowsDropped, s.Shootdowns, s.TablesUnshadowed, s.InvlpgDrops,
            vm.Processors.Sum(p => p.Cpu.TlbFills));
    }
}

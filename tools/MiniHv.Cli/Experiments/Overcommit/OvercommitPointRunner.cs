using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using MiniHv.Cli.Running;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Experiments.Overcommit;

/// <summary>What one point of the overcommit sweep measured. Every count is reproducible (deterministic runs) but the host seconds.</summary>
internal sealed record OvercommitResult
{
    public required OvercommitPoint Point { get; init; }

    public long MachineFrames { get; init; }

    public long GuestFrames { get; init; }

    /// <summary>Host (wall) time of the run.</summary>
    public double HostSeconds { get; init; }

    /// <summary>CPU time of the thread that ran it (all of a deterministic run's work): what overcommit cost, even on a busy host.
    /// Wall time where the host cannot tell.</summary>
    public double CpuSeconds { get; init; }

    /// <summary>Instructions all guests ran (virtual time: the same at every ratio).</summary>
    public long Instructions { get; init; }

    public long SwappedOut { get; init; }

    public long SwappedIn { get; init; }

    public long SwapWrites { get; init; }

    public long SwapReads { get; init; }

    public double SwapInMeanMicroseconds { get; init; }

    /// <summary>Machine frames the balloons gave back over the run.</summary>
    public long ReclaimedByBalloon { get; init; }

    /// <summary>Frames sharing saved at the end (pages_sharing + zero_pages).</summary>
    public long ReclaimedBySharing { get; init; }

    /// <summary>The most pages all balloons held at once, and what they held at the end.</summary>
    public long BalloonPeakPages { get; init; }

    public long BalloonEndPages { get; init; }

    /// <summary>Machine frames in use at the end.</summary>
    public long MachineFramesAtEnd { get; init; }

    /// <summary>Every guest ended by itself (the debug exit), none out of memory.</summary>
    public bool Completed { get; init; }

    /// <summary>XxHash3 of every guest's transcript in order: equal across points when overcommit changed nothing the guests printed.</summary>
    public required string TranscriptHash { get; init; }
}

/// <summary>
/// Runs one point: the guests on a machine of the point's size, deterministic, with the CLI's scheduler, sharing engine,
/// reclaimer and balloons (as <c>minihv run --deterministic --machine-memory</c> does), the swap in a temporary file.
/// </summary>
internal static class OvercommitPointRunner
{
    public static OvercommitResult Run(OvercommitPoint p, OvercommitConfig config, byte[] image)
    {
        var wall = Stopwatch.StartNew();
        double? cpuStart = ThreadCpuClock.Seconds();
        var configs = Enumerable.Range(0, config.Guests).Select(i => new VmConfig
        {
            Name = $"jos-{i + 1}",
            Image = image,
            CommandLine = $"{EmbeddedGuests.JosName} {config.Append} seed={i + 1}",
            MemoryBytes = config.MemoryBytes,
            MaxInstructions = 20_000_000_000,
            Id = i + 1,
        }).ToList();
        long guestFrames = configs.Sum(c => c.MemoryBytes >> MachineMemory.FrameShift);
        long machineBytes = config.MachineBytes(p.Ratio);
        var plan = new RunPlan(configs, Deterministic: true, Sharing: p.Sharing, MachineMemoryBytes: machineBytes, Balloon: p.Balloon);
        using var machine = new MachineMemory(machineBytes >> MachineMemory.FrameShift);
        using var swap = new SwapSpace(new FileSwapDevice(null, keep: false), guestFrames);
        using var guests = new CapturedGuests(configs, machine);
        List<Vm> vms = guests.Vms;
        SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
        MemoryReclaimer reclaimer = SchedulerFactory.CreateReclaimer(plan, vms, machine, swap);
        var balloons = vms.Select(reclaimer.BalloonOf).OfType<BalloonDevice>().ToList();
        long peak = 0;
        SchedulerFactory.Create(plan, engine).Run(vms, CancellationToken.None, safepoint: vm =>
        {
            reclaimer.BetweenQuanta(vm);
            if (balloons.Count > 0)
                peak = Math.Max(peak, balloons.Sum(b => b.Size));
        });

        var hash = new XxHash3();
        for (int i = 0; i < vms.Count; i++)
            hash.Append(Encoding.UTF8.GetBytes($"{vms[i].Name}\n{guests.Transcript(i)}\n"));
        return new OvercommitResult
        {
            Point = p,
            MachineFrames = machine.CapFrames,
            GuestFrames = guestFrames,
            HostSeconds = wall.Elapsed.TotalSeconds,
            CpuSeconds = cpuStart is double c0 && ThreadCpuClock.Seconds() is double c1 ? c1 - c0 : wall.Elapsed.TotalSeconds,
            Instructions = vms.Sum(v => v.Instructions),
            SwappedOut = swap.SwappedOut,
            SwappedIn = swap.SwappedIn,
            SwapWrites = swap.SwapWrites,
            SwapReads = swap.SwapReads,
            SwapInMeanMicroseconds = swap.SwappedIn > 0 ? swap.SwapInTime.TotalMicroseconds / swap.SwappedIn : 0,
            ReclaimedByBalloon = reclaimer.BalloonedFrames,
            ReclaimedBySharing = engine == null ? 0 : engine.Stats.PagesSharing + engine.Stats.ZeroPages,
            BalloonPeakPages = peak,
            BalloonEndPages = balloons.Sum(b => b.Size),
            MachineFramesAtEnd = machine.FramesInUse,
            Completed = vms.All(v => v.Exit?.Kind == VmExitKind.DebugExit),
            TranscriptHash = hash.GetCurrentHashAsUInt64().ToString("x16"),
        };
    }
}

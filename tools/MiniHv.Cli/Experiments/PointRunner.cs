using System.Diagnostics;
using System.Text;
using MiniHv.Cli.Running;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Scheduling;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Experiments;

/// <summary>What one sweep point measured, once sharing had settled. Every count is reproducible but the two times.</summary>
internal sealed record PointResult
{
    public required SweepPoint Point { get; init; }

    /// <summary>Guest frames ever written, all guests (frames the engine put back on the zero frame included).</summary>
    public long GuestFrames { get; init; }

    /// <summary>Machine frames in use.</summary>
    public long MachineFrames { get; init; }

    /// <summary>Pages one load of the library maps, and how many of its read-only ones it must relocate.</summary>
    public int LibPages { get; init; }

    public int LibRelocatedPages { get; init; }

    /// <summary>Page mappings at library addresses in all environments of all guests: what the library would cost if nothing were shared.</summary>
    public long LibMappings { get; init; }

    /// <summary>Guest frames holding library pages: mapped at library addresses, or holding a page of the library file (the page cache).</summary>
    public long LibGuestFrames { get; init; }

    /// <summary>Machine frames backing those guest frames.</summary>
    public long LibMachineFrames { get; init; }

    /// <summary>Library mappings the guest kernels saved by mapping one guest frame into several environments.</summary>
    public long GuestSharedFrames { get; init; }

    /// <summary>Library guest frames the hypervisor saved by backing several with one machine frame.</summary>
    public long HvSharedFrames { get; init; }

    public long PagesShared { get; init; }

    public long PagesSharing { get; init; }

    public long ZeroPages { get; init; }

    public long CowBreaks { get; init; }

    /// <summary>Page faults the guests' own kernels handled (their copy-on-write among them).</summary>
    public long GuestPageFaults { get; init; }

    public long FullScans { get; init; }

    /// <summary>Full scans after every guest went idle until the counts held still.</summary>
    public long SettleScans { get; init; }

    /// <summary>False if the counts were still changing after the config's max_scans.</summary>
    public bool Settled { get; init; }

    /// <summary>Instructions all guests ran until the measurement: virtual time, reproducible.</summary>
    public long Instructions { get; init; }

    /// <summary>Host time the sharing engine spent scanning and merging until it settled.</summary>
    public double SettleSeconds { get; init; }

    /// <summary>Host time of the whole point.</summary>
    public double WallSeconds { get; init; }
}

/// <summary>
/// Runs one sweep point: the guests on one machine memory in deterministic mode with the CLI's scheduler and
/// sharing hookup (as <c>minihv run --deterministic</c> does), each libuser environment holding on once done, the
/// kernels idling; measures once the engine's full scans stop changing the counts, then stops the guests.
/// </summary>
internal static class PointRunner
{
    /// <summary>What the kernel prints once no environment can run and it starts idling (jos.idle=N).</summary>
    private static readonly byte[] IdleLine = Encoding.ASCII.GetBytes("jos: idle for ");

    public static PointResult Run(SweepPoint p, SharedObjectConfig config, Func<string, byte[]> kernel)
    {
        var wall = Stopwatch.StartNew();
        string imageName = $"jos-{p.Variant}-{p.LibKib}.elf";
        byte[] image = kernel(imageName);
        LibraryImage library = LibraryImage.FromKernel(image);

        var configs = Enumerable.Range(0, p.Guests).Select(i => new VmConfig
        {
            Name = $"g{i + 1}",
            Image = image,
            CommandLine = $"{imageName} {Append(p, config, i)}",
            MemoryBytes = config.MemoryBytes,
            MaxInstructions = 20_000_000_000,
            Salt = p.Sharing == SharingPolicy.Salted ? $"group{i % config.SaltGroups}" : null,
        }).ToList();
        var plan = new RunPlan(configs, Deterministic: true, Sharing: p.Sharing, ScanRate: config.ScanRate, Quantum: config.Quantum);
        using var machine = new MachineMemory(configs.Sum(c => c.MemoryBytes >> MachineMemory.FrameShift));
        using var guests = new CapturedGuests(configs, machine);
        List<Vm> vms = guests.Vms;
        SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
        var scheduler = (DeterministicScheduler)SchedulerFactory.Create(plan, engine);
        using var stop = new CancellationTokenSource();
        PointResult? result = null;
        long idleAt = -1;
        var engineRound = scheduler.AfterRound;
        scheduler.AfterRound = round =>
        {
            engineRound?.Invoke(round);
            if (result != null)
                return;
            if (idleAt < 0)
            {
                if (!Enumerable.Range(0, vms.Count).All(i => guests.Printed(i, IdleLine)))
                    return;
                idleAt = engine?.Stats.FullScans ?? 0;
            }

            bool settled = engine == null || Settled(engine, idleAt);
            if (settled || engine!.Stats.FullScans - idleAt > config.MaxScans)
            {
                result = Measure(p, library, vms, machine, engine, idleAt, settled) with { WallSeconds = wall.Elapsed.TotalSeconds };
                stop.Cancel();
            }
        };
        scheduler.Run(vms, stop.Token);
        if (result == null)
        {
            Vm failed = vms.First(v => v.Exit!.Kind != VmExitKind.Stopped);
            throw new InvalidOperationException($"{Describe(p)}: guest {failed.Name} ended before settling: {failed.Exit!.Message}\n"
                + guests.Transcript(vms.IndexOf(failed)));
        }

        CheckTranscripts(p, guests);
        return result with { WallSeconds = wall.Elapsed.TotalSeconds };
    }

    /// <summary>The kernel command line of guest <paramref name="guest"/> (from 0).</summary>
    public static string Append(SweepPoint p, SharedObjectConfig config, int guest)
    {
        var sb = new StringBuilder();
        if (p.Spawn == "fork")
            sb.Append($"prog=libuser lib.forks={p.EnvsPerGuest - 1}");
        else
            sb.AppendJoin(' ', Enumerable.Repeat("prog=libuser", p.EnvsPerGuest));
        int seed = config.SameSeed ? config.Seed : config.Seed + guest;
        sb.Append($" lib.variant={p.Variant} lib.kib={p.LibKib} aslr={p.Aslr} seed={seed} lib.touch={p.TouchPct}");
        sb.Append($" lib.calls={config.LibCalls} lib.hold=1 jos.idle={config.IdleTicks}");
        return sb.ToString();
    }

    public static string Describe(SweepPoint p)
        => $"guests={p.Guests} envs={p.EnvsPerGuest} spawn={p.Spawn} lib={p.LibKib}K {p.Variant} aslr={p.Aslr} sharing={p.Sharing.ToString().ToLowerInvariant()} touch={p.TouchPct}%";

    /// <summary>At least three full scans since the guests went idle (the first records checksums, the second merges), the last two alike.</summary>
    private static bool Settled(SharingEngine engine, long idleAt)
    {
        List<SharingSample> s = engine.Samples;
        if (engine.Stats.FullScans - idleAt < 3 || s.Count < 2)
            return false;
        SharingSample a = s[^1], b = s[^2];
        return a.MachineFramesInUse == b.MachineFramesInUse && a.PagesShared == b.PagesShared && a.PagesSharing == b.PagesSharing
            && a.ZeroPages == b.ZeroPages && a.CowBreaks == b.CowBreaks;
    }

    /// <summary>Everything the row holds, with every guest stopped at the safepoint.</summary>
    private static unsafe PointResult Measure(SweepPoint p, LibraryImage library, List<Vm> vms, MachineMemory machine, SharingEngine? engine,
        long idleAt, bool settled)
    {
        FrameCensus census = FrameCensus.Take(vms.Select(v => v.Memory), machine, engine?.Stats.ZeroPages ?? 0);
        long mappings = 0, guestFrames = 0, guestShared = 0;
        var libMfns = new HashSet<uint>();
        foreach (Vm vm in vms)
        {
            List<LibraryMapping> mapped = GuestEnvironments.LibraryMappings(vm);
            var gfns = new HashSet<uint>(mapped.Select(m => m.Gfn));
            mappings += mapped.Count;
            guestShared += mapped.Count - gfns.Count;

            // The page cache and any other frame holding a page of the file as it is.
            GuestPhysicalMemory mem = vm.Memory;
            for (uint gfn = 0; gfn < mem.FrameCount; gfn++)
            {
                Mfn mfn = mem.P2m.GetMfn(gfn);
                if (!mfn.IsZero && !gfns.Contains(gfn)
                    && library.HoldsFilePage(new ReadOnlySpan<byte>(machine.FrameAddress(mfn), MachineMemory.FrameSize)))
                    gfns.Add(gfn);
            }

            foreach (uint gfn in gfns)
            {
                if (gfn >= mem.FrameCount)
                    continue;
                guestFrames++;
                Mfn mfn = mem.P2m.GetMfn(gfn);
                if (!mfn.IsZero)
                    libMfns.Add(mfn.Value);
            }
        }

        SharingStats? s = engine?.Stats;
        return new PointResult
        {
            Point = p,
            GuestFrames = census.GuestFramesInUse,
            MachineFrames = machine.FramesInUse,
            LibPages = library.Pages,
            LibRelocatedPages = library.RelocatedReadOnlyPages,
            LibMappings = mappings,
            LibGuestFrames = guestFrames,
            LibMachineFrames = libMfns.Count,
            GuestSharedFrames = guestShared,
            HvSharedFrames = guestFrames - libMfns.Count,
            PagesShared = s?.PagesShared ?? 0,
            PagesSharing = s?.PagesSharing ?? 0,
            ZeroPages = s?.ZeroPages ?? 0,
            CowBreaks = s?.CowBreaks ?? 0,
            GuestPageFaults = vms.Sum(v => v.GuestPageFaults),
            FullScans = s?.FullScans ?? 0,
            SettleScans = (s?.FullScans ?? 0) - idleAt,
            Settled = settled,
            Instructions = vms.Sum(v => v.Instructions),
            SettleSeconds = s?.ScanTime.TotalSeconds ?? 0,
        };
    }

    /// <summary>Every environment of every guest did its part: as many "called" lines as environments, no panic.</summary>
    private static void CheckTranscripts(SweepPoint p, CapturedGuests guests)
    {
        for (int i = 0; i < guests.Vms.Count; i++)
        {
            string text = guests.Transcript(i);
            int done = text.Split('\n').Count(l => l.StartsWith("libuser ", StringComparison.Ordinal) && l.Contains(": called ", StringComparison.Ordinal));
            if (done != p.EnvsPerGuest || text.Contains("panic", StringComparison.Ordinal))
                throw new InvalidOperationException($"{Describe(p)}: guest g{i + 1}: {done} of {p.EnvsPerGuest} environments finished:\n{text}");
        }
    }
}

using System.IO.Hashing;
using System.Text;
using MiniHv.Cli.Running;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Sharing;

/// <summary>A guest to run: name, image, command line, RAM and salt group.</summary>
internal sealed record GuestToRun(string Name, string Image, string Append, long Memory, string? Salt = null, long? Shares = null);

/// <summary>How one guest of a run ended: its transcript and a hash of every byte of its RAM as it saw it.</summary>
internal sealed record GuestOutcome(string Name, string Transcript, VmExit Exit, ulong MemoryHash, long Instructions);

/// <summary>A whole run: each guest's outcome, the engine's counters and samples, and the census before teardown.</summary>
internal sealed record SharedRunResult(IReadOnlyList<GuestOutcome> Guests, SharingStats? Sharing, IReadOnlyList<SharingSample> Samples, FrameCensus Census,
    IReadOnlyDictionary<FrameContent, long>? ByContent = null);

/// <summary>Runs guests on one machine memory with the CLI's scheduler and sharing hookup, as <c>minihv run</c> does.</summary>
internal static class SharedRun
{
    public static SharedRunResult Run(IReadOnlyList<GuestToRun> guests, SharingPolicy policy, bool deterministic,
        long scanRate = RunPlan.DefaultScanRate, int threads = 2, long? scanFullEvery = null, bool scanAuto = false, int scanThreads = 1)
    {
        var configs = guests.Select(g => new VmConfig
        {
            Name = g.Name,
            Image = File.ReadAllBytes(g.Image),
            CommandLine = MultibootLoader.QemuCommandLine(g.Image, g.Append),
            MemoryBytes = g.Memory,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
            Timeout = TimeSpan.FromSeconds(300),
            Salt = g.Salt,
        }).ToList();
        var plan = new RunPlan(configs, deterministic, threads, Sharing: policy, ScanRate: scanRate, ScanFullEvery: scanFullEvery,
            ScanAuto: scanAuto, ScanThreads: scanThreads);
        using var machine = new MachineMemory(configs.Sum(c => c.MemoryBytes >> 12));
        using var captured = new CapturedGuests(configs, machine);
        List<Vm> vms = captured.Vms;
        SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
        var peak = new PeakAttribution(engine, vms);
        SchedulerFactory.Create(plan, engine).Run(vms, CancellationToken.None);
        FrameCensus census = FrameCensus.Take(vms.Select(v => v.Memory), machine, engine?.Stats.ZeroPages ?? 0);
        var outcomes = vms.Select((vm, i) => new GuestOutcome(vm.Name, captured.Transcript(i),
            vm.Exit!, MemoryHash(vm.Memory), vm.Instructions)).ToList();
        return new SharedRunResult(outcomes, engine?.Stats, engine?.Samples.ToList() ?? [], census, peak.Result);
    }

    /// <summary>XxHash3 over every byte of guest RAM, read as the guest would (shared, zero or private alike).</summary>
    public static ulong MemoryHash(GuestPhysicalMemory memory)
    {
        var hash = new XxHash3();
        var frame = new byte[4096];
        for (uint gfn = 0; gfn < memory.FrameCount; gfn++)
        {
            memory.Read(gfn << 12, frame);
            hash.Append(frame);
        }

        return hash.GetCurrentHashAsUInt64();
    }
}

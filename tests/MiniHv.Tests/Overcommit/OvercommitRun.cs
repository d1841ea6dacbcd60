using System.IO.Hashing;
using MiniHv.Cli.Running;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Sharing;

namespace MiniHv.Tests.Overcommit;

/// <summary>A run on a machine smaller than its guests: each guest's outcome and the swap's counters.</summary>
internal sealed record OvercommitRunResult(IReadOnlyList<GuestOutcome> Guests, SwapSpace? Swap, long MajorHiddenFaults);

/// <summary>Runs guests as <c>minihv run --machine-memory</c> does: the CLI's scheduler, sharing and reclaimer hookup.</summary>
internal static class OvercommitRun
{
    /// <param name="machineBytes">The machine's memory, or null for the guests' RAM together (no swap).</param>
    /// <param name="device">The swap device, or null for one in memory.</param>
    public static OvercommitRunResult Run(IReadOnlyList<GuestToRun> guests, SharingPolicy policy, bool deterministic, long? machineBytes,
        MemorySwapDevice? device = null)
    {
        var configs = guests.Select(g => new VmConfig
        {
            Name = g.Name,
            Image = File.ReadAllBytes(g.Image),
            CommandLine = MultibootLoader.QemuCommandLine(g.Image, g.Append),
            MemoryBytes = g.Memory,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
            Timeout = TimeSpan.FromSeconds(300),
        }).ToList();
        var plan = new RunPlan(configs, deterministic, Threads: 2, Sharing: policy, MachineMemoryBytes: machineBytes);
        long guestFrames = configs.Sum(c => c.MemoryBytes >> MachineMemory.FrameShift);
        using var machine = new MachineMemory(machineBytes is long bytes ? bytes >> MachineMemory.FrameShift : guestFrames);
        using SwapSpace? swap = machineBytes == null ? null : new SwapSpace(device ?? new MemorySwapDevice(), guestFrames);
        using var captured = new CapturedGuests(configs, machine);
        List<Vm> vms = captured.Vms;
        SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
        MemoryReclaimer? reclaimer = swap == null ? null : SchedulerFactory.CreateReclaimer(plan, vms, machine, swap);
        SchedulerFactory.Create(plan, engine).Run(vms, CancellationToken.None, safepoint: vm => reclaimer?.BetweenQuanta(vm));
        var outcomes = vms.Select((vm, i) => new GuestOutcome(vm.Name, captured.Transcript(i), vm.Exit!, MemoryHash(vm.Memory), vm.Instructions)).ToList();
        return new OvercommitRunResult(outcomes, swap, vms.Sum(vm => vm.Faults.Counters.MajorHiddenTotal));
    }

    /// <summary>XxHash3 over every byte of guest RAM wherever it is (a machine frame, the zero frame or swap), bringing nothing back.</summary>
    public static ulong MemoryHash(GuestPhysicalMemory memory)
    {
        var hash = new XxHash3();
        var frame = new byte[MachineMemory.FrameSize];
        for (uint gfn = 0; gfn < memory.FrameCount; gfn++)
        {
            memory.PeekFrame(gfn, frame);
            hash.Append(frame);
        }

        return hash.GetCurrentHashAsUInt64();
    }
}

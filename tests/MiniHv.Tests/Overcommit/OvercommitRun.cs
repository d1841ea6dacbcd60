using System.Buffers.Binary;
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

/// <summary>
/// A run on a machine smaller than its guests: each guest's outcome and the swap's counters; with frames kept, each
/// guest's frames one hash each, and with balloons, the frames its balloon ever held, what the balloons gave back and
/// what each held at the end.
/// </summary>
internal sealed record OvercommitRunResult(IReadOnlyList<GuestOutcome> Guests, SwapSpace? Swap, long MajorHiddenFaults,
    IReadOnlyList<ulong[]>? FrameHashes = null, IReadOnlyList<HashSet<uint>>? EverBallooned = null, long BalloonedFrames = 0,
    IReadOnlyList<BalloonDevice>? Balloons = null, long BalloonTouches = 0, IReadOnlyList<uint>? PeekedWords = null);

/// <summary>Runs guests as <c>minihv run --machine-memory</c> does: the CLI's scheduler, sharing and reclaimer hookup.</summary>
internal static class OvercommitRun
{
    /// <param name="machineBytes">The machine's memory, or null for the guests' RAM together (no swap).</param>
    /// <param name="device">The swap device, or null for one in memory.</param>
    /// <param name="balloon">Balloon devices in the guests (as --balloon on).</param>
    /// <param name="keepFrames">Hash each guest frame apart, for <see cref="OvercommitRunResult.FrameHashes"/>.</param>
    /// <param name="peek">A guest-physical address whose 32-bit word each guest's memory holds at the end is wanted.</param>
    public static OvercommitRunResult Run(IReadOnlyList<GuestToRun> guests, SharingPolicy policy, bool deterministic, long? machineBytes,
        MemorySwapDevice? device = null, bool balloon = false, bool keepFrames = false, uint? peek = null)
    {
        var configs = guests.Select(g => new VmConfig
        {
            Name = g.Name,
            Image = File.ReadAllBytes(g.Image),
            CommandLine = MultibootLoader.QemuCommandLine(g.Image, g.Append),
            MemoryBytes = g.Memory,
            Shares = g.Shares,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
            Timeout = TimeSpan.FromSeconds(300),
        }).ToList();
        var plan = new RunPlan(configs, deterministic, Threads: 2, Sharing: policy, MachineMemoryBytes: machineBytes, Balloon: balloon);
        long guestFrames = configs.Sum(c => c.MemoryBytes >> MachineMemory.FrameShift);
        using var machine = new MachineMemory(machineBytes is long bytes ? bytes >> MachineMemory.FrameShift : guestFrames);
        using SwapSpace? swap = machineBytes == null ? null : new SwapSpace(device ?? new MemorySwapDevice(), guestFrames);
        using var captured = new CapturedGuests(configs, machine);
        List<Vm> vms = captured.Vms;
        SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
        MemoryReclaimer? reclaimer = swap == null ? null : SchedulerFactory.CreateReclaimer(plan, vms, machine, swap);
        SchedulerFactory.Create(plan, engine).Run(vms, CancellationToken.None, safepoint: vm => reclaimer?.BetweenQuanta(vm));
        var outcomes = vms.Select((vm, i) => new GuestOutcome(vm.Name, captured.Transcript(i), vm.Exit!, MemoryHash(vm.Memory), vm.Instructions)).ToList();
        var hashes = keepFrames ? vms.Select(vm => FrameHashes(vm.Memory)).ToList() : null;
        var balloons = reclaimer == null ? [] : vms.Select(reclaimer.BalloonOf).OfType<BalloonDevice>().ToList();
        var everBallooned = balloons.Count == 0 ? null
            : balloons.Select((b, i) => Enumerable.Range(0, (int)vms[i].Memory.FrameCount).Select(g => (uint)g).Where(b.WasInflated).ToHashSet()).ToList();
        var peeked = peek is uint gpa ? vms.Select(vm => PeekWord(vm.Memory, gpa)).ToList() : null;
        return new OvercommitRunResult(outcomes, swap, vms.Sum(vm => vm.Faults.Counters.MajorHiddenTotal), hashes, everBallooned,
            reclaimer?.BalloonedFrames ?? 0, balloons.Count == 0 ? null : balloons, vms.Sum(vm => vm.Memory.BalloonTouches), peeked);
    }

    private static uint PeekWord(GuestPhysicalMemory memory, uint gpa)
    {
        var frame = new byte[MachineMemory.FrameSize];
        memory.PeekFrame(gpa >> MachineMemory.FrameShift, frame);
        return BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan((int)(gpa & (MachineMemory.FrameSize - 1))));
    }

    /// <summary>One XxHash3 per guest frame, wherever it is, bringing nothing back.</summary>
    public static ulong[] FrameHashes(GuestPhysicalMemory memory)
    {
        var hashes = new ulong[memory.FrameCount];
        var frame = new byte[MachineMemory.FrameSize];
        for (uint gfn = 0; gfn < memory.FrameCount; gfn++)
        {
            memory.PeekFrame(gfn, frame);
            hashes[gfn] = XxHash3.HashToUInt64(frame);
        }

        return hashes;
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

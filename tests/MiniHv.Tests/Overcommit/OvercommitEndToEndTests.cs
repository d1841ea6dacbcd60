using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Sharing;

namespace MiniHv.Tests.Overcommit;

/// <summary>
/// Eight JOS-style guests of 64 MiB on a machine of 128 MiB, each writing and rereading a working set larger
/// than its share (dedupwork with 4096 pages of its own, 16 MiB, besides its shared and zero pages): every
/// guest prints what it prints with memory enough and ends with the same bytes in every frame, with sharing
/// off and across guests (whose shared frames then go to swap once for all their sharers), in both schedulers.
/// Smaller runs (lazyalloc's 2048 pages in 16 MiB) show that a deterministic run swaps the same frames every
/// time, and that a full swap disk stops only the guest whose frame could not be written.
/// </summary>
public class OvercommitEndToEndTests
{
    private const long MachineBytes = 128L << 20;
    private const long SmallMachineBytes = 16L << 20;

    private static List<GuestToRun> WorkingSets() => Enumerable.Range(1, 8)
        .Select(i => new GuestToRun($"jos-{i}", TestImages.Jos,
            $"prog=dedupwork dedup.same=64 dedup.zero=32 dedup.unique=4096 dedup.rounds=2 seed={i}", 64L << 20))
        .ToList();

    private static List<GuestToRun> Guests() => Enumerable.Range(1, 8)
        .Select(i => new GuestToRun($"jos-{i}", TestImages.Jos,
            $"prog=dedupwork prog=lazyalloc lazyalloc.pages=2048 dedup.rounds=5 seed={i}", 64L << 20))
        .ToList();

    private static readonly Dictionary<(SharingPolicy, bool), OvercommitRunResult> Enough = new();

    private static OvercommitRunResult WithEnoughMemory(SharingPolicy policy, bool workingSets)
    {
        lock (Enough)
        {
            if (!Enough.TryGetValue((policy, workingSets), out OvercommitRunResult? run))
                Enough[(policy, workingSets)] = run = OvercommitRun.Run(workingSets ? WorkingSets() : Guests(), policy, deterministic: true, machineBytes: null);
            return run;
        }
    }

    [TestCase(SharingPolicy.Off, true)]
    [TestCase(SharingPolicy.Off, false)]
    [TestCase(SharingPolicy.All, true)]
    [TestCase(SharingPolicy.All, false)]
    public void EightGuestsOf64MiB_In128MiB_WithWorkingSetsAboveTheirShare_PrintTheSame_AndEndWithTheSameMemory(SharingPolicy policy, bool deterministic)
    {
        OvercommitRunResult enough = WithEnoughMemory(policy, workingSets: true);
        OvercommitRunResult small = OvercommitRun.Run(WorkingSets(), policy, deterministic, MachineBytes);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < small.Guests.Count; i++)
            {
                GuestOutcome g = small.Guests[i];
                Assert.That(enough.Guests[i].Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name} with enough memory: {enough.Guests[i].Exit.Message}");
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.Transcript, Does.Contain("dedupwork: checksums:"), g.Name);
                Assert.That(g.Transcript, Is.EqualTo(enough.Guests[i].Transcript), g.Name);
                Assert.That(g.MemoryHash, Is.EqualTo(enough.Guests[i].MemoryHash), () => $"{g.Name}: final memory differs from the run with enough memory");
            }

            Assert.That(small.Swap!.SwappedOut, Is.GreaterThan(1000), "frames swapped out");
            Assert.That(small.Swap.SwappedIn, Is.GreaterThan(100), "frames read back");
            Assert.That(small.MajorHiddenFaults, Is.EqualTo(small.Swap.SwappedIn), "each swap-in is a major hidden fault in a fault log");
            if (policy == SharingPolicy.All)
                Assert.That(small.Swap.SharedSwapOuts, Is.GreaterThan(0), "shared frames swapped out once for all their sharers");
        });
    }

    [TestCase(SharingPolicy.Off)]
    [TestCase(SharingPolicy.All)]
    public void EightGuestsOf64MiB_In16MiB_PrintTheSame_AndEndWithTheSameMemory(SharingPolicy policy)
    {
        OvercommitRunResult enough = WithEnoughMemory(policy, workingSets: false);
        OvercommitRunResult small = OvercommitRun.Run(Guests(), policy, deterministic: false, SmallMachineBytes);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < small.Guests.Count; i++)
            {
                GuestOutcome g = small.Guests[i];
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.Transcript, Does.Contain("lazyalloc: read back 2048 words: 0 wrong"), g.Name);
                Assert.That(g.Transcript, Is.EqualTo(enough.Guests[i].Transcript), g.Name);
                Assert.That(g.MemoryHash, Is.EqualTo(enough.Guests[i].MemoryHash), g.Name);
            }

            if (policy == SharingPolicy.All)
            {
                Assert.That(small.Swap!.SharedSwapOuts, Is.GreaterThan(0), "shared frames swapped out once for all their sharers");
                Assert.That(small.Swap.ResidentSwapIns, Is.GreaterThan(0), "shared frames read back once for all");
            }
        });
    }

    [Test]
    public void ADeterministicRun_ChoosesTheSameVictims_EveryTime()
    {
        OvercommitRunResult first = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, SmallMachineBytes);
        OvercommitRunResult second = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, SmallMachineBytes);
        Assert.Multiple(() =>
        {
            Assert.That(second.Swap!.SwappedOut, Is.EqualTo(first.Swap!.SwappedOut), "swapped out");
            Assert.That(second.Swap.SwappedIn, Is.EqualTo(first.Swap.SwappedIn), "swapped in");
            Assert.That(second.Swap.ZeroReclaimed, Is.EqualTo(first.Swap.ZeroReclaimed), "zero frames reclaimed");
            Assert.That(second.Guests.Select(g => g.Instructions), Is.EqualTo(first.Guests.Select(g => g.Instructions)), "instructions");
        });
    }

    [Test]
    public void AFullSwapDisk_StopsTheGuestWhoseFrameCouldNotBeWritten_WithTheReason_AndNoOtherGuestIsHarmed()
    {
        OvercommitRunResult enough = WithEnoughMemory(SharingPolicy.Off, workingSets: false);
        var device = new MemorySwapDevice { WritesBeforeFull = 3000 };
        OvercommitRunResult run = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, SmallMachineBytes, device);
        var stopped = run.Guests.Where(g => g.Exit.Kind != VmExitKind.DebugExit).ToList();
        Assert.That(stopped, Is.Not.Empty, "the disk filled while frames still had to go");
        Assert.That(stopped[0].Exit.Message, Is.EqualTo("out of machine memory: cannot write to the swap file 'memory swap': No space left on device"));
        Assert.Multiple(() =>
        {
            foreach (GuestOutcome g in stopped)
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.OutOfMemory), () => $"{g.Name}: {g.Exit.Message}");
            for (int i = 0; i < run.Guests.Count; i++)
            {
                GuestOutcome g = run.Guests[i];
                // What every guest printed is what it prints with enough memory, up to where it stopped.
                Assert.That(enough.Guests[i].Transcript, Does.StartWith(g.Transcript), g.Name);
                if (g.Exit.Kind == VmExitKind.DebugExit)
                    Assert.That(g.MemoryHash, Is.EqualTo(enough.Guests[i].MemoryHash), g.Name);
            }
        });
    }
}

using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Sharing;

namespace MiniHv.Tests.Overcommit;

/// <summary>
/// Eight JOS-style guests of 64 MiB, each deduplicating pages and then writing and rereading 2048 pages of its
/// own (lazyalloc), on a machine of 16 MiB (a 32nd of what they were promised): every guest prints what it prints with memory enough and ends with the
/// same bytes in every frame, with sharing off and across guests (whose shared frames then go to swap once for
/// all their sharers), in both schedulers; and a full swap disk stops
/// only the guest whose frame could not be written.
/// </summary>
public class OvercommitEndToEndTests
{
    private const long MachineBytes = 16L << 20;

    private static List<GuestToRun> Guests() => Enumerable.Range(1, 8)
        .Select(i => new GuestToRun($"jos-{i}", TestImages.Jos,
            $"prog=dedupwork prog=lazyalloc lazyalloc.pages=2048 dedup.rounds=5 seed={i}", 64L << 20))
        .ToList();

    private static readonly Dictionary<SharingPolicy, OvercommitRunResult> Enough = new();

    private static OvercommitRunResult WithEnoughMemory(SharingPolicy policy)
    {
        lock (Enough)
        {
            if (!Enough.TryGetValue(policy, out OvercommitRunResult? run))
                Enough[policy] = run = OvercommitRun.Run(Guests(), policy, deterministic: true, machineBytes: null);
            return run;
        }
    }

    [TestCase(SharingPolicy.Off, true)]
    [TestCase(SharingPolicy.Off, false)]
    [TestCase(SharingPolicy.All, true)]
    [TestCase(SharingPolicy.All, false)]
    public void GuestsOnAMachineOfA32ndOfTheirMemory_PrintTheSame_AndEndWithTheSameMemory(SharingPolicy policy, bool deterministic)
    {
        OvercommitRunResult enough = WithEnoughMemory(policy);
        OvercommitRunResult small = OvercommitRun.Run(Guests(), policy, deterministic, MachineBytes);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < small.Guests.Count; i++)
            {
                GuestOutcome g = small.Guests[i];
                Assert.That(enough.Guests[i].Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name} with enough memory: {enough.Guests[i].Exit.Message}");
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.Transcript, Does.Contain("lazyalloc: read back 2048 words: 0 wrong"), g.Name);
                Assert.That(g.Transcript, Is.EqualTo(enough.Guests[i].Transcript), g.Name);
                Assert.That(g.MemoryHash, Is.EqualTo(enough.Guests[i].MemoryHash), () => $"{g.Name}: final memory differs from the run with enough memory");
            }

            Assert.That(small.Swap!.SwappedOut, Is.GreaterThan(1000), "frames swapped out");
            Assert.That(small.Swap.SwappedIn, Is.GreaterThan(100), "frames read back");
            Assert.That(small.MajorHiddenFaults, Is.EqualTo(small.Swap.SwappedIn), "each swap-in is a major hidden fault in a fault log");
            if (policy == SharingPolicy.All)
            {
                Assert.That(small.Swap.SharedSwapOuts, Is.GreaterThan(0), "shared frames swapped out once for all their sharers");
                Assert.That(small.Swap.ResidentSwapIns, Is.GreaterThan(0), "shared frames read back once for all");
            }
        });
    }

    [Test]
    public void ADeterministicRun_ChoosesTheSameVictims_EveryTime()
    {
        OvercommitRunResult first = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes);
        OvercommitRunResult second = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes);
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
        OvercommitRunResult enough = WithEnoughMemory(SharingPolicy.Off);
        var device = new MemorySwapDevice { WritesBeforeFull = 3000 };
        OvercommitRunResult run = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes, device);
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

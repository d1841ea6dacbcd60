using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Sharing;

namespace MiniHv.Tests.Overcommit;

/// <summary>
/// The JOS-style guest's balloon driver with the hypervisor's balloon devices and policy: four guests of 32 MiB
/// in 16 MiB, each writing 8 MiB with lazyalloc (freed when it exits) beside dedupwork. The balloons give frames
/// back to the machine, the guests take pages back when their kernels need them, and every guest prints what
/// it prints with memory enough; its memory is the same too, but for the frames its balloon held and the
/// kernel's own (its free-page records, its stack and its scheduler's counters, which see the driver run).
/// </summary>
public class BalloonEndToEndTests
{
    private const long MachineBytes = 16L << 20;

    private static List<GuestToRun> Guests() => Enumerable.Range(1, 4)
        .Select(i => new GuestToRun($"jos-{i}", TestImages.Jos,
            $"prog=lazyalloc lazyalloc.pages=2048 prog=dedupwork dedup.unique=512 dedup.rounds=3 seed={i}", 32L << 20))
        .ToList();

    private static readonly Lazy<OvercommitRunResult> Enough = new(() =>
        OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, machineBytes: null, keepFrames: true, peek: NextFree));

    private const uint KernBase = 0xF000_0000;

    /// <summary>The guest-physical address of boot_alloc's nextfree: where the kernel's boot-time memory (its image, pages[], envs) ends.</summary>
    private static uint NextFree => ElfSymbols.Parse(File.ReadAllBytes(TestImages.Jos)).Named("nextfree.0") is [ElfSymbol nextfree]
        ? nextfree.Value - KernBase
        : throw new InvalidOperationException("no nextfree in jos.elf");

    [TestCase(true)]
    [TestCase(false)]
    public void FourGuestsOf32MiB_In16MiB_WithBalloons_GiveFramesBack_TakePagesBack_AndPrintTheSame(bool deterministic)
    {
        OvercommitRunResult enough = Enough.Value;
        OvercommitRunResult small = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic, MachineBytes, balloon: true, keepFrames: true);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < small.Guests.Count; i++)
            {
                GuestOutcome g = small.Guests[i];
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.Transcript, Does.Contain("dedupwork: checksums:"), g.Name);
                Assert.That(g.Transcript, Is.EqualTo(enough.Guests[i].Transcript), g.Name);
            }

            IReadOnlyList<BalloonDevice> balloons = small.Balloons!;
            Assert.That(balloons.Sum(b => b.Inflates), Is.GreaterThan(1000), "pages the drivers gave");
            Assert.That(small.BalloonedFrames, Is.GreaterThan(100), "machine frames the balloons gave back to the pool");
            Assert.That(balloons.Sum(b => b.Deflates), Is.GreaterThan(0), "pages the kernels took back");
            Assert.That(balloons.Sum(b => b.Refused), Is.Zero, "the drivers gave only frame numbers they could");
            Assert.That(small.BalloonTouches, Is.Zero, "no kernel touched a page it had given");
        });
    }

    [Test]
    public void WithBalloons_EveryFrameOutsideTheBalloonsAndTheKernelsOwnMemory_EndsAsWithMemoryEnough()
    {
        OvercommitRunResult enough = Enough.Value;
        OvercommitRunResult small = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes, balloon: true, keepFrames: true, peek: NextFree);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < small.Guests.Count; i++)
            {
                uint kernel = (small.PeekedWords![i] - KernBase) >> 12;
                Assert.That(small.PeekedWords[i], Is.EqualTo(enough.PeekedWords![i]), "the same boot-time memory");
                HashSet<uint> ballooned = small.EverBallooned![i];
                ulong[] mine = small.FrameHashes![i], theirs = enough.FrameHashes![i];
                var differing = Enumerable.Range(0, mine.Length).Select(g => (uint)g)
                    .Where(g => mine[g] != theirs[g] && g >= kernel && !ballooned.Contains(g)).ToList();
                Assert.That(ballooned.Count, Is.GreaterThan(0), $"jos-{i + 1}: its balloon held frames");
                Assert.That(differing, Is.Empty, () => $"jos-{i + 1}: frames that differ outside the balloon and the kernel's memory (below gfn {kernel:x}): "
                    + string.Join(" ", differing.Take(20).Select(g => g.ToString("x"))));
            }
        });
    }

    [Test]
    public void GuestsWithFewerShares_GiveMoreToTheirBalloons()
    {
        // The same four guests, the first two with ten times the others' shares (ESX's "high" against "low").
        List<GuestToRun> guests = Guests().Select((g, i) => g with { Shares = i < 2 ? 3200L : 320L }).ToList();
        OvercommitRunResult run = OvercommitRun.Run(guests, SharingPolicy.Off, deterministic: true, MachineBytes, balloon: true);
        IReadOnlyList<BalloonDevice> balloons = run.Balloons!;
        long rich = balloons[0].Inflates + balloons[1].Inflates, poor = balloons[2].Inflates + balloons[3].Inflates;
        Assert.That(poor, Is.GreaterThan(2 * rich), $"pages given by the guests of 3200 shares {rich}, of 320 shares {poor}");
        for (int i = 0; i < run.Guests.Count; i++)
            Assert.That(run.Guests[i].Transcript, Is.EqualTo(Enough.Value.Guests[i].Transcript), run.Guests[i].Name);
    }

    [Test]
    public void ADeterministicRunWithBalloons_ReplaysBitForBit()
    {
        OvercommitRunResult first = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes, balloon: true);
        OvercommitRunResult second = OvercommitRun.Run(Guests(), SharingPolicy.Off, deterministic: true, MachineBytes, balloon: true);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < first.Guests.Count; i++)
            {
                Assert.That(second.Guests[i].Transcript, Is.EqualTo(first.Guests[i].Transcript));
                Assert.That(second.Guests[i].MemoryHash, Is.EqualTo(first.Guests[i].MemoryHash), $"jos-{i + 1}: memory");
                Assert.That(second.Guests[i].Instructions, Is.EqualTo(first.Guests[i].Instructions), $"jos-{i + 1}: instructions");
                Assert.That(second.Balloons![i].Inflates, Is.EqualTo(first.Balloons![i].Inflates), $"jos-{i + 1}: inflates");
                Assert.That(second.Balloons[i].Deflates, Is.EqualTo(first.Balloons[i].Deflates), $"jos-{i + 1}: deflates");
            }

            Assert.That(second.BalloonedFrames, Is.EqualTo(first.BalloonedFrames));
            Assert.That(second.Swap!.SwappedOut, Is.EqualTo(first.Swap!.SwappedOut));
            Assert.That(second.Swap.SwappedIn, Is.EqualTo(first.Swap.SwappedIn));
        });
    }
}

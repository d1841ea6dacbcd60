using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Sharing;

/// <summary>
/// PAE and two-level guests side by side in one process, their frames (page tables among them) merged across guests:
/// each prints what QEMU printed and ends with the memory it ends with alone.
/// </summary>
public class PaeSharingTests
{
    private static List<GuestToRun> Mix() =>
    [
        new("pae1", TestImages.TestKernel("pae"), "spin=2", 32L << 20),
        new("pae2", TestImages.TestKernel("pae"), "spin=2", 32L << 20),
        new("faults", TestImages.TestKernel("faults"), "", 64L << 20),
        new("hello", TestImages.Jos, "prog=hello", 64L << 20),
    ];

    [TestCase(true)]
    [TestCase(false)]
    public void PaeAndTwoLevelGuests_WithSharingAll_SeeWhatTheySeeAlone(bool deterministic)
    {
        SharedRunResult alone = SharedRun.Run(Mix(), SharingPolicy.Off, deterministic: true);
        SharedRunResult run = SharedRun.Run(Mix(), SharingPolicy.All, deterministic, scanRate: 64_000_000);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < run.Guests.Count; i++)
            {
                GuestOutcome g = run.Guests[i];
                Assert.That(g.Exit.Kind, Is.EqualTo(Hv.Machine.VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.Transcript, Is.EqualTo(alone.Guests[i].Transcript), g.Name);
                Assert.That(g.MemoryHash, Is.EqualTo(alone.Guests[i].MemoryHash), () => $"{g.Name}: final memory differs");
            }

            Assert.That(run.Guests[0].Transcript, Is.EqualTo(TestImages.Golden("kernels", "pae")));
            Assert.That(run.Guests[2].Transcript, Is.EqualTo(TestImages.Golden("kernels", "faults")));
            Assert.That(run.Guests[3].Transcript, Is.EqualTo(TestImages.Golden("jos", "hello")));
        });
        if (!deterministic)
            return; // in parallel the scanner runs on host time: how much it merges in so short a run varies
        SharingStats s = run.Sharing ?? throw new InvalidOperationException("no engine");
        Assert.That(s.Merges, Is.GreaterThan(50), "frames merged across guests");
        Assert.That(s.CowBreaks + s.ZeroBreaks, Is.GreaterThan(0), "merged frames written again");
    }
}

using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Sharing;

/// <summary>
/// Sharing beside running guests (the parallel scheduler's scanner threads): every program recorded on QEMU
/// still prints what QEMU printed and ends with the memory it has without sharing, while the scanner merges
/// at its highest rate, with one or two scanner threads and with the auto rate.
/// </summary>
public class ParallelSharingTests
{
    /// <summary>Every golden program that reads no input: the JOS-style guest's and the test kernels'.</summary>
    private static List<GuestToRun> GoldenPrograms()
    {
        var guests = TestImages.Manifest("jos")
            .Select(f => new GuestToRun(f[0], TestImages.Jos, f[1], GuestRun.ParseQemuSize(f[2])))
            .ToList();
        guests.AddRange(TestImages.Manifest("kernels")
            .Where(f => f[3].Length == 0)
            .Select(f => new GuestToRun("kernel-" + f[0], TestImages.TestKernel(f[0]), f[1], GuestRun.ParseQemuSize(f[2]))));
        return guests;
    }

    private static SharedRunResult? _withoutSharing;

    private static SharedRunResult WithoutSharing()
        => _withoutSharing ??= SharedRun.Run(GoldenPrograms(), SharingPolicy.Off, deterministic: false);

    [TestCase(1, false)]
    [TestCase(2, false)]
    [TestCase(1, true)]
    public void EveryGoldenProgram_InOneParallelRunWithSharingAll_PrintsWhatQemuPrinted_AndEndsWithTheSameMemory(int scanThreads, bool auto)
    {
        SharedRunResult off = WithoutSharing();
        SharedRunResult run = SharedRun.Run(GoldenPrograms(), SharingPolicy.All, deterministic: false,
            scanRate: ScanPacer.MaxAutoRate, scanAuto: auto, scanThreads: scanThreads);
        Assert.Multiple(() =>
        {
            for (int i = 0; i < run.Guests.Count; i++)
            {
                GuestOutcome g = run.Guests[i];
                string golden = g.Name.StartsWith("kernel-", StringComparison.Ordinal)
                    ? TestImages.Golden("kernels", g.Name["kernel-".Length..])
                    : TestImages.Golden("jos", g.Name);
                Assert.That(g.Transcript, Is.EqualTo(golden), g.Name);
                Assert.That(g.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Name}: {g.Exit.Message}");
                Assert.That(g.MemoryHash, Is.EqualTo(off.Guests[i].MemoryHash), () => $"{g.Name}: final memory differs from the run without sharing");
            }
        });

        // Merges happened while the guests ran, and writes broke some of them again.
        SharingStats s = run.Sharing!;
        Assert.That(s.Merges, Is.GreaterThan(100), "frames merged across guests");
        Assert.That(s.CowBreaks + s.ZeroBreaks, Is.GreaterThan(0), "breaks");
        Assert.That(s.FullScans, Is.GreaterThanOrEqualTo(2), "full scans");
        Assert.That(s.ScannerCpuTime, Is.GreaterThan(TimeSpan.Zero), "scanner CPU time");
    }
}

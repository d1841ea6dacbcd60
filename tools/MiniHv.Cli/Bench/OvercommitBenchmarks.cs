using System.Diagnostics;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Hypervisor swap's costs: a swap-in (the hidden fault's work: a fresh frame, 4 KiB read from the swap file,
/// which the host's page cache holds, and the remap) at the median, beside a plain 4 KiB copy between frames,
/// and a swap-out by the clock, per frame.
/// </summary>
internal static class OvercommitBenchmarks
{
    public static IEnumerable<BenchResult> Run(int runs, bool quick)
    {
        int frames = quick ? 2_000 : 20_000;
        var swapIns = new List<double>();
        var swapOuts = new List<double>();
        var copies = new List<double>();
        for (int r = -1; r < runs; r++)
        {
            using var machine = new MachineMemory(frames + 64);
            using var swap = new SwapSpace(new FileSwapDevice(null, keep: false), frames);
            using var guest = new GuestPhysicalMemory(machine, (long)frames << 12);
            guest.Swap = swap;
            var frame = new byte[4096];
            for (uint gfn = 0; gfn < frames; gfn++)
            {
                BitConverter.TryWriteBytes(frame, gfn + 1);
                guest.Write(gfn << 12, frame);
            }

            var copyTimes = new double[frames];
            for (uint gfn = 0; gfn < frames; gfn++)
            {
                long c0 = Stopwatch.GetTimestamp();
                guest.PeekFrame(gfn, frame);
                copyTimes[gfn] = Stopwatch.GetElapsedTime(c0).TotalMicroseconds;
            }

            long t0 = Stopwatch.GetTimestamp();
            int taken = new ClockReclaimer(guest, null).Reclaim(frames, swap);
            double outPerFrame = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / Math.Max(1, taken);
            if (taken != frames)
                throw new InvalidOperationException($"the clock swapped out {taken} of {frames} frames");

            var times = new double[frames];
            for (uint gfn = 0; gfn < frames; gfn++)
            {
                long s0 = Stopwatch.GetTimestamp();
                guest.ReadByte(gfn << 12);
                times[gfn] = Stopwatch.GetElapsedTime(s0).TotalMicroseconds;
            }

            if (swap.SwappedIn != frames)
                throw new InvalidOperationException($"expected {frames} swap-ins, got {swap.SwappedIn}");
            if (r < 0)
                continue;
            Array.Sort(times);
            Array.Sort(copyTimes);
            swapIns.Add(times[frames / 2]);
            copies.Add(copyTimes[frames / 2]);
            swapOuts.Add(outPerFrame);
        }

        const string copyName = "4 KiB frame copy, median of one";
        yield return new BenchResult(copyName, "us", copies, Note: "PeekFrame of a frame in memory: the copy alone");
        yield return new BenchResult("swap-in, median of one", "us", swapIns, Baseline: copyName,
            Note: "a guest read of a swapped-out frame: new frame, 4 KiB pread from the swap file (page cache), remap");
        yield return new BenchResult("swap-out by the clock, per frame", "us", swapOuts,
            Note: "clock step, 4 KiB pwrite to the swap file, P2M unmap and shootdown");
    }
}

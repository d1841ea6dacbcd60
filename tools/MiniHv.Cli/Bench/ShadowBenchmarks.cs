using System.Diagnostics;
using System.Globalization;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Shadow paging against the plain walk on the JOS-style guest: spin (a timer-preempted child, few page
/// table changes) and forktree (copy-on-write fork, many). For each: MIPS in both modes, and for the
/// shadow, hidden faults per 1,000 instructions and how often a CR3 switch found its shadow.
/// </summary>
internal static class ShadowBenchmarks
{
    public static IEnumerable<BenchResult> Run(int runs, bool quick)
    {
        var workloads = new[]
        {
            ("spin", $"prog=spin spin.yields={(quick ? 10 : 100)}"),
            ("forktree", $"prog=forktree forktree.depth={(quick ? 4 : 6)}"),
        };
        foreach (var (name, append) in workloads)
        {
            string walkName = $"{name}, plain walk";
            var walk = Measure(append, PagingMode.Walk, runs, out _, out _);
            yield return new BenchResult(walkName, "MIPS", walk, Note: append);
            var shadow = Measure(append, PagingMode.Shadow, runs, out ShadowStats? stats, out double hiddenPerThousand);
            yield return new BenchResult($"{name}, shadow", "MIPS", shadow, Baseline: walkName, Note: Describe(stats!, hiddenPerThousand));
        }
    }

    private static string Describe(ShadowStats s, double hiddenPerThousand)
        => string.Create(CultureInfo.InvariantCulture,
            $"hidden faults {hiddenPerThousand:0.00}/1000 insns; CR3 hits {s.Cr3SwitchHits}/{s.Cr3Switches} ({s.Cr3HitRate:P0}), of revisits {s.Cr3RevisitHitRate:P0}");

    /// <param name="hiddenPerThousand">Hidden faults of every cause (fills, A/D updates, page-table writes, breaks) per 1,000 instructions.</param>
    private static List<double> Measure(string append, PagingMode paging, int runs, out ShadowStats? stats, out double hiddenPerThousand)
    {
        var rates = new List<double>();
        ShadowStats? last = null;
        double hidden = 0;
        for (int r = -1; r < runs; r++)
        {
            double mips = BenchGuest.Mips(append, paging, vm =>
            {
                if (vm.Shadow is not { } shadow)
                    return;
                last = shadow.Stats;
                hidden = 1000.0 * (last.ShadowFills + last.AdUpdates + last.PageTableWrites
                    + vm.Memory.ZeroFrameBreaks + vm.Memory.CopyOnWriteBreaks) / vm.Instructions;
            });
            if (r >= 0)
                rates.Add(mips); // the first run warms up
        }

        stats = last;
        hiddenPerThousand = hidden;
        return rates;
    }
}

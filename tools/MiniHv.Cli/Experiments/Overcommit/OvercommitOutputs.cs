using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace MiniHv.Cli.Experiments.Overcommit;

/// <summary>The overcommit experiment's outputs: results.csv and results.json (one row per point), summary.md and three charts.</summary>
internal static class OvercommitOutputs
{
    private const double FramesPerMiB = 256.0;

    /// <summary>The columns, in order, with how each is read off a result.</summary>
    private static readonly (string Name, Func<OvercommitResult, object> Value)[] Columns =
    [
        ("ratio", r => r.Point.Ratio),
        ("sharing", r => r.Point.Sharing.ToString().ToLowerInvariant()),
        ("balloon", r => r.Point.Balloon ? "on" : "off"),
        ("machine_frames", r => r.MachineFrames),
        ("guest_frames", r => r.GuestFrames),
        ("completed", r => r.Completed),
        ("transcript_hash", r => r.TranscriptHash),
        ("instructions", r => r.Instructions),
        ("host_seconds", r => Math.Round(r.HostSeconds, 3)),
        ("cpu_seconds", r => Math.Round(r.CpuSeconds, 2)),
        ("swapped_out", r => r.SwappedOut),
        ("swapped_in", r => r.SwappedIn),
        ("swap_writes", r => r.SwapWrites),
        ("swap_reads", r => r.SwapReads),
        ("swap_in_mean_microseconds", r => Math.Round(r.SwapInMeanMicroseconds, 2)),
        ("reclaimed_by_sharing", r => r.ReclaimedBySharing),
        ("reclaimed_by_balloon", r => r.ReclaimedByBalloon),
        ("balloon_peak_pages", r => r.BalloonPeakPages),
        ("balloon_end_pages", r => r.BalloonEndPages),
        ("machine_frames_at_end", r => r.MachineFramesAtEnd),
    ];

    public static void Write(string dir, IReadOnlyList<OvercommitResult> rows, OvercommitConfig config, string command, IReadOnlyList<Sweeps.PointFailure> failures)
    {
        Directory.CreateDirectory(dir);
        ResultTable.WriteCsv(Path.Combine(dir, "results.csv"), rows, Columns, Format);
        ResultTable.WriteJson(Path.Combine(dir, "results.json"), rows, Columns, Format);
        List<string> charts = rows.Count == 0 ? [] :
        [
            Chart(dir, rows, "run-time.png", "CPU seconds of the run", r => r.CpuSeconds),
            Chart(dir, rows, "swap-traffic.png", "MiB written to and read from swap", r => (r.SwapWrites + r.SwapReads) / FramesPerMiB),
            Chart(dir, rows, "balloon.png", "MiB the balloons held at most", r => r.BalloonPeakPages / FramesPerMiB),
        ];
        WriteSummary(Path.Combine(dir, "summary.md"), rows, config, command, charts, failures);
    }

    private static string Format(object value) => ResultTable.Format(value, "true", "false");

    /// <summary>One line per (sharing, balloon) against the ratio; returns the file name.</summary>
    private static string Chart(string dir, IReadOnlyList<OvercommitResult> rows, string name, string what, Func<OvercommitResult, double> value)
    {
        var plot = new Plot();
        plot.Title($"{what}, by overcommit ratio (guests' RAM / machine memory)");
        plot.XLabel("overcommit ratio");
        plot.YLabel(what);
        var colors = new[] { Colors.Blue, Colors.Red, Colors.Green, Colors.Orange };
        int c = 0;
        foreach (var line in rows.GroupBy(r => (r.Point.Sharing, r.Point.Balloon)).OrderBy(l => l.Key.Sharing).ThenBy(l => l.Key.Balloon))
        {
            var points = line.OrderBy(r => r.Point.Ratio).ToList();
            var scatter = plot.Add.Scatter(points.Select(r => r.Point.Ratio).ToArray(), points.Select(value).ToArray());
            scatter.LegendText = $"sharing {line.Key.Sharing.ToString().ToLowerInvariant()}, balloon {(line.Key.Balloon ? "on" : "off")}";
            scatter.Color = colors[c++ % colors.Length];
            scatter.LineWidth = 2;
            scatter.MarkerSize = 7;
            if (!line.Key.Balloon)
                scatter.LinePattern = LinePattern.Dashed;
        }

        double[] ticks = rows.Select(r => r.Point.Ratio).Distinct().Order().ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ticks.Select(t => t.ToString("0.##", CultureInfo.InvariantCulture) + "x").ToArray());
        plot.ShowLegend(Edge.Right);
        plot.Axes.SetLimitsY(0, Math.Max(1e-9, rows.Max(value)) * 1.08);
        plot.SavePng(Path.Combine(dir, name), 1100, 520);
        return name;
    }

    private static void WriteSummary(string path, IReadOnlyList<OvercommitResult> rows, OvercommitConfig config, string command, IReadOnlyList<string> charts,
        IReadOnlyList<Sweeps.PointFailure> failures)
    {
        var sb = new StringBuilder();
        sb.Append("# Memory overcommit: results\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"Command: `{command}` (config: {config.Source}); {rows.Count} points: {config.Guests} JOS-style guests of ");
        sb.Append(CultureInfo.InvariantCulture, $"{config.MemoryBytes >> 20} MiB running `{config.Append} seed=N`, deterministic, on machines of their RAM ");
        sb.Append("together over the ratio, with sharing off and across guests (`all`), balloons off and on; swap in a temporary file. ");
        sb.Append("Counts are frames of 4 KiB and reproducible; times are not. \"CPU s\" is the CPU time (user and system) of the one thread that ran the ");
        sb.Append("point, guests, sharing, reclaim and swap I/O together: its cost even on a busy host, where the wall time (\"host s\") also counts waiting for a core.\n\n");
        if (failures.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"## Failed points\n\n{failures.Count} of {rows.Count + failures.Count} points failed; `--retry-failed` runs them again.\n\n| point | error |\n| --- | --- |\n");
            foreach (Sweeps.PointFailure f in failures)
                sb.Append(CultureInfo.InvariantCulture, $"| {f.Id} | {f.Error.Split('\n')[0].Replace("|", "\\|", StringComparison.Ordinal)} |\n");
            sb.Append('\n');
        }

        if (rows.Count > 0)
        {
            Findings(sb, rows);
            sb.Append("\n## All points\n\n");
            sb.Append("| ratio | sharing | balloon | machine MiB | completed | same transcripts | host s | CPU s | CPU vs 1x | swapped out | swapped in | swap MiB | by sharing | by balloon | balloon peak |\n");
            sb.Append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
            string reference = rows[0].TranscriptHash;
            foreach (OvercommitResult r in rows.OrderBy(r => r.Point.Sharing).ThenBy(r => r.Point.Balloon).ThenBy(r => r.Point.Ratio))
            {
                OvercommitResult? one = Baseline(rows, r);
                sb.Append(CultureInfo.InvariantCulture, $"| {r.Point.Ratio:0.##}x | {r.Point.Sharing.ToString().ToLowerInvariant()} | {(r.Point.Balloon ? "on" : "off")} | ");
                sb.Append(CultureInfo.InvariantCulture, $"{r.MachineFrames / FramesPerMiB:0.#} | {(r.Completed ? "yes" : "NO")} | {(r.TranscriptHash == reference ? "yes" : "NO")} | ");
                sb.Append(CultureInfo.InvariantCulture, $"{r.HostSeconds:0.0} | {r.CpuSeconds:0.0} | {(one != null ? $"{r.CpuSeconds / one.CpuSeconds:0.00}x" : "-")} | {r.SwappedOut:N0} | {r.SwappedIn:N0} | ");
                sb.Append(CultureInfo.InvariantCulture, $"{(r.SwapWrites + r.SwapReads) / FramesPerMiB:0.#} | {r.ReclaimedBySharing:N0} | {r.ReclaimedByBalloon:N0} | {r.BalloonPeakPages:N0} |\n");
            }
        }

        if (charts.Count > 0)
        {
            sb.Append("\n## Charts\n\n");
            foreach (string chart in charts)
                sb.Append(CultureInfo.InvariantCulture, $"![{chart}]({chart})\n\n");
        }

        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>The same sharing and balloon setting's point at the smallest ratio, when it is 1x.</summary>
    private static OvercommitResult? Baseline(IReadOnlyList<OvercommitResult> rows, OvercommitResult r)
        => rows.Where(o => o.Point.Sharing == r.Point.Sharing && o.Point.Balloon == r.Point.Balloon && o.Point.Ratio == 1).FirstOrDefault();

    /// <summary>What each mechanism buys, at the largest ratio: computed from the rows, never written by hand.</summary>
    private static void Findings(StringBuilder sb, IReadOnlyList<OvercommitResult> rows)
    {
        sb.Append("## Findings\n\n");
        int complete = rows.Count(r => r.Completed);
        int same = rows.Count(r => r.TranscriptHash == rows[0].TranscriptHash);
        sb.Append(CultureInfo.InvariantCulture, $"- {complete} of {rows.Count} points completed (every guest ended by itself); {same} of {rows.Count} printed exactly what the first point's guests printed.\n");
        double top = rows.Max(r => r.Point.Ratio);
        OvercommitResult? At(Hv.Sharing.SharingPolicy s, bool b) => rows.FirstOrDefault(r => r.Point.Ratio == top && r.Point.Sharing == s && r.Point.Balloon == b);
        OvercommitResult? plain = At(Hv.Sharing.SharingPolicy.Off, false), balloon = At(Hv.Sharing.SharingPolicy.Off, true),
            shared = At(Hv.Sharing.SharingPolicy.All, false), both = At(Hv.Sharing.SharingPolicy.All, true);
        string Traffic(OvercommitResult r) => string.Create(CultureInfo.InvariantCulture, $"{(r.SwapWrites + r.SwapReads) / FramesPerMiB:0.#} MiB of swap traffic ({r.SwappedOut:N0} out, {r.SwappedIn:N0} in) in {r.CpuSeconds:0.0} CPU s");
        if (plain != null)
            sb.Append(CultureInfo.InvariantCulture, $"- At {top:0.##}x with swap alone: {Traffic(plain)}.\n");
        if (plain != null && balloon != null)
            sb.Append(CultureInfo.InvariantCulture, $"- Balloons (sharing off): {Traffic(balloon)}; they gave back {balloon.ReclaimedByBalloon:N0} machine frames and held at most {balloon.BalloonPeakPages:N0} pages; swap writes {Change(plain.SwapWrites, balloon.SwapWrites)}, swap reads {Change(plain.SwapReads, balloon.SwapReads)}.\n");
        if (plain != null && shared != null)
            sb.Append(CultureInfo.InvariantCulture, $"- Sharing across guests (no balloons): {Traffic(shared)}; {shared.ReclaimedBySharing:N0} frames saved at the end; swap writes {Change(plain.SwapWrites, shared.SwapWrites)}, swap reads {Change(plain.SwapReads, shared.SwapReads)}.\n");
        if (plain != null && both != null)
            sb.Append(CultureInfo.InvariantCulture, $"- Sharing and balloons: {Traffic(both)}; swap writes {Change(plain.SwapWrites, both.SwapWrites)}, swap reads {Change(plain.SwapReads, both.SwapReads)}.\n");
    }

    private static string Change(long from, long to) => from == 0
        ? (to == 0 ? "none either way" : $"{to:N0} where swap alone had none")
        : string.Create(CultureInfo.InvariantCulture, $"{(to - from) * 100.0 / from:+0;-0;0}% ({from:N0} to {to:N0})");
}

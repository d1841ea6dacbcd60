using ScottPlot;

namespace MiniHv.Cli.Experiments;

/// <summary>The experiment's charts (ScottPlot, PNG): memory against the number of guests, one line per variant.</summary>
internal static class Charts
{
    /// <summary>For each group of points that varies the number of guests, one chart per sharing policy; returns the file names.</summary>
    public static List<string> Write(string dir, IReadOnlyList<PointResult> rows)
    {
        var files = new List<string>();
        foreach (List<PointResult> group in ResultWriter.GuestSeries(rows))
        {
            SweepPoint first = group[0].Point;
            foreach (var bySharing in group.GroupBy(r => r.Point.Sharing).OrderBy(g => g.Key))
            {
                string sharing = bySharing.Key.ToString().ToLowerInvariant();
                string name = $"memory-vs-guests-{sharing}-{first.EnvsPerGuest}env-{first.Spawn}-{first.LibKib}k-touch{first.TouchPct}.png";
                var plot = new Plot();
                plot.Title($"sharing {sharing}: {first.EnvsPerGuest} environments per guest ({first.Spawn}), {first.LibKib} KiB library");
                plot.XLabel("guests");
                plot.YLabel("MiB");
                var colors = new[] { Colors.Blue, Colors.Red, Colors.Green, Colors.Orange };
                int c = 0;
                foreach (var line in bySharing.GroupBy(r => (r.Point.Variant, r.Point.Aslr)).OrderBy(l => l.Key.Variant).ThenBy(l => l.Key.Aslr))
                {
                    var points = line.OrderBy(r => r.Point.Guests).ToList();
                    double[] xs = points.Select(r => (double)r.Point.Guests).ToArray();
                    string label = $"{line.Key.Variant}{(line.Key.Aslr == 1 ? " + aslr" : "")}";
                    Color color = colors[c++ % colors.Length];
                    var lib = plot.Add.Scatter(xs, points.Select(r => r.LibMachineFrames / 256.0).ToArray());
                    lib.LegendText = $"{label}: library";
                    lib.Color = color;
                    lib.LineWidth = 2;
                    var all = plot.Add.Scatter(xs, points.Select(r => r.MachineFrames / 256.0).ToArray());
                    all.LegendText = $"{label}: all machine memory";
                    all.Color = color;
                    all.LinePattern = LinePattern.Dashed;
                }

                double[] ticks = bySharing.Select(r => (double)r.Point.Guests).Distinct().Order().ToArray();
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ticks.Select(t => t.ToString("0", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
                plot.ShowLegend(Edge.Right);
                plot.Axes.SetLimitsY(0, bySharing.Max(r => r.MachineFrames) / 256.0 * 1.05);
                plot.SavePng(Path.Combine(dir, name), 1100, 560);
                files.Add(name);
            }
        }

        return files;
    }
}

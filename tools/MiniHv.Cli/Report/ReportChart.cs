using MiniHv.Cli.Stats;
using ScottPlot;
using SkiaSharp;

namespace MiniHv.Cli.Report;

/// <summary>A chart that was written: where, and whether it is an SVG (else a PNG).</summary>
internal sealed record ChartFile(string Path, bool IsSvg);

/// <summary>Which sample field the memory-over-time plot puts on its x axis.</summary>
internal enum ChartAxis
{
    Instructions,
    FullScans,
}

/// <summary>
/// One figure of a run's memory, drawn with ScottPlot into an SVG or a PNG. On top, when the file has sharing
/// samples: machine frames in use, guest frames in use and distinct contents (the theoretical minimum) after each
/// full scan. Below: per guest, its frames in use at the end stacked as private, shared (frames_on_stable) and
/// zero (frames the engine put back on the zero frame), which add up to the guest's part of guest_frames_in_use;
/// and, with sharing, what the merged frames held (by_content). RAM a guest never wrote is not drawn.
/// </summary>
internal static class ReportChart
{
    public const string Description = "Memory over time (machine frames in use, guest frames in use, distinct contents), "
        + "each guest's frames in use (private, shared, zero) and what the shared frames hold (by_content)";

    private const int Width = 1200;
    private const int RowHeight = 450;

    /// <summary>A sans-serif font the machine has (ScottPlot's own guess picks DejaVu Serif on a bare Debian).</summary>
    private static readonly Lazy<string> FontName = new(() => SKFontManager.Default.FontFamilies.Contains("DejaVu Sans") ? "DejaVu Sans" : Fonts.Default);

    private static readonly Color MachineColor = Color.FromHex("#1f77b4");
    private static readonly Color GuestColor = Color.FromHex("#ff7f0e");
    private static readonly Color MinimumColor = Color.FromHex("#2ca02c");
    private static readonly Color PrivateColor = Color.FromHex("#d62728");
    private static readonly Color SharedColor = Color.FromHex("#1f77b4");
    private static readonly Color ZeroColor = Color.FromHex("#a0a0a0");
    private static readonly Color ContentColor = Color.FromHex("#9467bd");

    /// <summary>Whether <paramref name="path"/> names a file this class can draw (.svg or .png, any case).</summary>
    public static bool IsChartPath(string path)
        => Path.GetExtension(path).ToLowerInvariant() is ".svg" or ".png";

    /// <summary>Draws the figure into <paramref name="path"/>, as SVG or PNG by its extension.</summary>
    public static ChartFile Write(RunReport report, string path, ChartAxis axis)
    {
        bool svg = Path.GetExtension(path).Equals(".svg", StringComparison.OrdinalIgnoreCase);
        var (figure, height) = Figure(report, axis);
        var area = new PixelRect(0, Width, height, 0);
        if (svg)
        {
            using FileStream file = File.Create(path);
            using (SKCanvas canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, height), file))
            {
                Draw(figure, canvas, area);
            }
        }
        else
        {
            using SKSurface surface = SKSurface.Create(new SKImageInfo(Width, height));
            Draw(figure, surface.Canvas, area);
            using SKImage image = surface.Snapshot();
            using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
            using FileStream file = File.Create(path);
            png.SaveTo(file);
        }

        return new ChartFile(path, svg);
    }

    /// <summary>
    /// Each subplot into its cell on a white page. ScottPlot clears the canvas with a transparent colour before
    /// each render, which Skia's SVG canvas writes as a black rectangle over what was drawn before; NewPlot turns
    /// that off, so nothing here clears.
    /// </summary>
    private static void Draw(IReadOnlyList<(Plot Plot, PixelRect Cell)> figure, SKCanvas canvas, PixelRect area)
    {
        using var white = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Fill };
        canvas.DrawRect(new SKRect(area.Left, area.Top, area.Right, area.Bottom), white);
        foreach (var (plot, cell) in figure)
            plot.Render(canvas, cell);
    }

    /// <summary>The subplots and their cells: the memory line plot across the top when there are samples, the bar plots side by side below.</summary>
    private static (List<(Plot Plot, PixelRect Cell)> Figure, int Height) Figure(RunReport report, ChartAxis axis)
    {
        IReadOnlyList<SharingSampleStats> samples = report.Stats.Sharing?.Samples ?? [];
        var bars = new List<Plot> { GuestBars(report) };
        if (report.HasSharing && report.Content.Count > 0)
            bars.Add(ContentBars(report));

        var figure = new List<(Plot, PixelRect)>();
        float top = 0;
        if (samples.Count > 0)
        {
            figure.Add((OverTime(report, samples, axis), new PixelRect(0, Width, RowHeight, 0)));
            top = RowHeight;
        }

        float width = (float)Width / bars.Count;
        for (int i = 0; i < bars.Count; i++)
            figure.Add((bars[i], new PixelRect(i * width, (i + 1) * width, top + RowHeight, top)));
        return (figure, (int)top + RowHeight);
    }

    private static Plot NewPlot(string title)
    {
        var plot = new Plot();
        plot.RenderManager.ClearCanvasBeforeEachRender = false;
        plot.RenderManager.RenderActions.RemoveAll(a => a is ScottPlot.Rendering.RenderActions.ClearCanvas);
        plot.Font.Set(FontName.Value);
        plot.Title(title, size: 15);
        return plot;
    }

    private static Plot OverTime(RunReport report, IReadOnlyList<SharingSampleStats> samples, ChartAxis axis)
    {
        Plot plot = NewPlot($"Memory after each full scan ({report.Stats.Guests.Count} guests, sharing {report.Stats.Sharing!.Policy})");
        double[] x = samples.Select(s => axis == ChartAxis.Instructions ? (double)s.Instructions : s.FullScans).ToArray();
        Line(plot, x, samples.Select(s => (double)s.GuestFramesInUse), "guest frames in use", GuestColor, LinePattern.Solid);
        Line(plot, x, samples.Select(s => (double)s.MachineFramesInUse), "machine frames in use", MachineColor, LinePattern.Solid);
        Line(plot, x, samples.Select(s => (double)s.DistinctContents), "distinct contents (theoretical minimum)", MinimumColor, LinePattern.Dashed);
        plot.XLabel(axis == ChartAxis.Instructions ? "instructions, all guests together" : "full scans");
        plot.YLabel("frames (4 KiB)");
        if (axis == ChartAxis.Instructions && x.Max() >= 1e6)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => $"{v / 1e6:0.#}M" };
        double top = samples.Max(s => Math.Max(s.GuestFramesInUse, Math.Max(s.MachineFramesInUse, s.DistinctContents)));
        double left = x.Min(), right = x.Max() > left ? x.Max() : left + 1;
        plot.Axes.SetLimits(left, right, 0, Math.Max(1, top) * 1.12);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    private static void Line(Plot plot, double[] x, IEnumerable<double> y, string label, Color color, LinePattern pattern)
    {
        var line = plot.Add.ScatterLine(x, y.ToArray(), color);
        line.LegendText = label;
        line.LineWidth = 2;
        line.LinePattern = pattern;
    }

    private static Plot GuestBars(RunReport report)
    {
        Plot plot = NewPlot(report.HasSharing ? "Each guest's frames in use at the end" : "Each guest's frames in use at the end (no sharing in this run)");
        IReadOnlyList<GuestStats> guests = report.Stats.Guests;
        var layers = new (string Label, Color Color, Func<GuestStats, long> Frames)[]
        {
            ("private", PrivateColor, g => g.Memory.PrivateFrames),
            ("shared (frames_on_stable)", SharedColor, g => g.Sharing?.FramesOnStable ?? 0),
            ("zero (put back by the engine)", ZeroColor, g => g.Sharing?.ZeroPages ?? 0),
        };
        var bottoms = new double[guests.Count];
        foreach (var (label, color, frames) in layers)
        {
            if (label != "private" && !report.HasSharing)
                continue;
            var bars = guests.Select((g, i) => new Bar
            {
                Position = i,
                ValueBase = bottoms[i],
                Value = bottoms[i] + frames(g),
                FillColor = color,
                LineWidth = 0,
            }).ToList();
            for (int i = 0; i < guests.Count; i++)
                bottoms[i] += frames(guests[i]);
            plot.Add.Bars(bars).LegendText = label;
        }

        plot.Axes.Bottom.SetTicks(guests.Select((_, i) => (double)i).ToArray(), guests.Select(g => g.Name).ToArray());
        if (guests.Count > 8)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        }

        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.YLabel("guest frames");
        plot.Axes.SetLimits(-0.6, guests.Count - 0.4, 0, Math.Max(1, bottoms.DefaultIfEmpty(0).Max()) * 1.1);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>Horizontal bars, one per kind in the report's order from the top, each labelled with its count.</summary>
    private static Plot ContentBars(RunReport report)
    {
        Plot plot = NewPlot("What the shared frames hold (at the scan that saved the most)");
        IReadOnlyList<ContentRow> rows = report.Content;
        double Position(int i) => rows.Count - 1 - i;
        var bars = rows.Select((r, i) => new Bar
        {
            Position = Position(i),
            Value = (long)r.Frames.Exact!,
            FillColor = ContentColor,
            LineWidth = 0,
            Label = r.Frames.Text,
        }).ToList();
        var series = plot.Add.Bars(bars);
        series.Horizontal = true;
        series.ValueLabelStyle.FontSize = 12;
        plot.Axes.Left.SetTicks(rows.Select((_, i) => Position(i)).ToArray(), rows.Select(r => r.Kind).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.XLabel("guest frames");
        double top = rows.Select(r => (double)(long)r.Frames.Exact!).DefaultIfEmpty(0).Max();
        plot.Axes.SetLimits(0, Math.Max(1, top) * 1.15, -0.6, rows.Count - 0.4);
        return plot;
    }
}

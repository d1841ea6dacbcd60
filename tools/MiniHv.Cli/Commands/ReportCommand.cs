using System.CommandLine;
using System.Text;
using MiniHv.Cli.Report;

namespace MiniHv.Cli.Commands;

/// <summary><c>minihv report</c>: turn the statistics <c>minihv run --stats</c> wrote into tables, JSON, CSV, markdown, HTML and a chart.</summary>
internal static class ReportCommand
{
    public static Command Create(CliStreams streams)
    {
        var statsFile = new Argument<string>("STATS")
        {
            Description = "a statistics file written by 'minihv run --stats FILE'",
            Validators = { r => { if (r.GetValueOrDefault<string>() is ['-', ..] word) r.AddError($"unknown option '{word}'"); } },
        };
        var format = new Option<string>("--format", "-f")
        {
            Description = "table (for reading), json (one flat object), csv (one row per guest and a totals row), markdown, or html (one self-contained page)",
            HelpName = "FORMAT",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "json", "csv", "markdown", "html");
        var output = new Option<string?>("--out", "-o")
        {
            Description = "write the report to FILE instead of stdout",
            HelpName = "FILE",
        };
        var chart = new Option<string?>("--chart")
        {
            Description = "also draw the run's memory into FILE.svg or FILE.png: over time from the sharing samples, per guest, and by content",
            HelpName = "FILE",
            Validators = { r => { if (r.GetValueOrDefault<string?>() is string p && !ReportChart.IsChartPath(p)) r.AddError($"--chart '{p}': the file must end in .svg or .png"); } },
        };
        var chartX = new Option<string>("--chart-x")
        {
            Description = "the x axis of the memory-over-time plot: instructions (all guests together) or full_scans",
            HelpName = "AXIS",
            DefaultValueFactory = _ => "instructions",
        };
        chartX.AcceptOnlyFromAmong("instructions", "full_scans");

        var command = new Command("report", """
            Read a run's statistics (minihv run --stats FILE) and print them: run, memory totals, the sharing
            counters under Linux KSM's names and the ones KSM lacks, what the shared frames hold, one row per
            guest. Counts are the file's; fractions print as percentages with one decimal and seconds with
            three in the tables (json and csv carry exact values). Exit status: 0 done; 2 bad option, or a
            stats file that is missing, not JSON, of another format or version, or an output that cannot be
            written; 12 the chart could not be drawn (SkiaSharp's native library).
            """)
        {
            statsFile, format, output, chart, chartX,
        };
        command.SetAction(parse => Run(streams, parse.GetValue(statsFile)!, parse.GetValue(format)!, parse.GetValue(output),
            parse.GetValue(chart), parse.GetValue(chartX) == "full_scans" ? ChartAxis.FullScans : ChartAxis.Instructions));
        return command;
    }

    private static int Run(CliStreams streams, string path, string format, string? outPath, string? chartPath, ChartAxis axis)
    {
        RunReport report;
        try
        {
            report = new RunReport(path, StatsFile.Load(path));
        }
        catch (StatsFileException e)
        {
            return streams.Fail(ExitStatus.Usage, e.Message);
        }

        ChartFile? chart = null;
        if (chartPath != null)
        {
            try
            {
                chart = ReportChart.Write(report, chartPath, axis);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return streams.Fail(ExitStatus.Usage, $"--chart '{chartPath}': {e.Message}");
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
            {
                return streams.Fail(ExitStatus.Unsupported, $"--chart '{chartPath}': cannot draw: SkiaSharp's native library did not load ({Inner(e).Message})");
            }
        }

        try
        {
            if (outPath == null)
            {
                Write(report, format, chart, streams.Output, null);
            }
            else
            {
                using FileStream file = File.Create(outPath);
                using var writer = new StreamWriter(file, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
                Write(report, format, chart, writer, file);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return streams.Fail(ExitStatus.Usage, $"--out '{outPath}': {e.Message}");
        }

        return ExitStatus.Ok;
    }

    /// <param name="file">The file under <paramref name="writer"/>, for json's byte writer; null for stdout.</param>
    private static void Write(RunReport report, string format, ChartFile? chart, TextWriter writer, Stream? file)
    {
        switch (format)
        {
            case "json":
                WriteJson(report, writer, file);
                break;
            case "csv":
                CsvReport.Write(writer, report);
                break;
            case "markdown":
                MarkdownReport.Write(writer, report);
                break;
            case "html":
                HtmlReport.Write(writer, report, chart);
                break;
            default:
                TerminalReport.Write(writer, report);
                break;
        }

        writer.Flush();
    }

    private static void WriteJson(RunReport report, TextWriter writer, Stream? file)
    {
        writer.Flush();
        if (file != null)
        {
            JsonReport.Write(file, report);
            return;
        }

        using var buffer = new MemoryStream();
        JsonReport.Write(buffer, report);
        writer.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static Exception Inner(Exception e) => e.InnerException is { } inner ? Inner(inner) : e;
}

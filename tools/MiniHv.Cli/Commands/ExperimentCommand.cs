using System.CommandLine;
using MiniHv.Cli.Experiments;

namespace MiniHv.Cli.Commands;

/// <summary><c>minihv experiment</c>: the research experiments, each a sweep of runs that writes its results to a directory.</summary>
internal static class ExperimentCommand
{
    public static Command Create(CliStreams streams)
    {
        var command = new Command("experiment", "Run an experiment: a sweep of guest runs, its results as CSV, JSON, a summary and charts.")
        {
            SharedObject(streams),
        };
        return command;
    }

    private static Command SharedObject(CliStreams streams)
    {
        var config = new Option<string?>("--config")
        {
            Description = "the sweep, as a YAML or JSON file (docs/sharedobj.md); default: the built-in full sweep",
            HelpName = "FILE",
        };
        var quick = new Option<bool>("--quick") { Description = "a small sweep (3 guest counts, the 64 KiB library) that runs in well under a minute" };
        var output = new Option<string>("--out")
        {
            Description = "where results.csv, results.json, summary.md and the charts go",
            HelpName = "DIR",
            DefaultValueFactory = _ => Path.Combine("results", "sharedobj"),
        };
        var jobs = new Option<int>("--jobs", "-j")
        {
            Description = "sweep points run at once (each on one host thread)",
            HelpName = "N",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 256) r.AddError("--jobs must be from 1 to 256"); } },
        };
        var print = new Option<bool>("--print-config") { Description = "print the built-in sweep (or the --quick one) as YAML and stop" };

        var command = new Command("sharedobj", """
            How much memory a shared library saves inside one guest and across guests, and what spoils it:
            guests run libuser against libshared.so (PIC or non-PIC, at a fixed or random address, of some
            size) in several environments, idle, and the sharing engine scans until its counts hold still;
            each point records guest and machine frames, the library's frames, what the guest kernels and
            the hypervisor shared, copy-on-write breaks and the scanner's host time.
            """)
        {
            config, quick, output, jobs, print,
        };
        command.SetAction((parse, cancel) =>
        {
            string? path = parse.GetValue(config);
            bool isQuick = parse.GetValue(quick);
            if (parse.GetValue(print))
            {
                streams.Output.Write(isQuick ? SharedObjectConfig.QuickYaml : SharedObjectConfig.DefaultYaml);
                streams.Output.WriteLine();
                return Task.FromResult(ExitStatus.Ok);
            }

            SharedObjectConfig sweep;
            try
            {
                sweep = path != null ? SharedObjectConfig.Parse(File.ReadAllText(path), path)
                    : isQuick ? SharedObjectConfig.Parse(SharedObjectConfig.QuickYaml, "built in (--quick)")
                    : SharedObjectConfig.Parse(SharedObjectConfig.DefaultYaml, "built in");
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, $"--config: {e.Message}"));
            }

            string dir = parse.GetValue(output)!;
            if (CheckWritable(dir) is { } unwritable)
                return Task.FromResult(streams.Fail(ExitStatus.Usage, $"--out '{dir}': {unwritable}"));
            streams.Error.WriteLine($"minihv: experiment sharedobj: {sweep.Points.Count} points, {parse.GetValue(jobs)} at once; results in {dir}");
            List<PointResult> rows;
            try
            {
                rows = SharedObjectExperiment.Run(sweep, parse.GetValue(jobs), streams.Error, cancel);
            }
            catch (OperationCanceledException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Interrupted, "experiment interrupted"));
            }
            catch (AggregateException e)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Unsupported, $"a point failed: {e.InnerExceptions[0].Message}"));
            }

            string line = "minihv experiment sharedobj" + (path != null ? $" --config {path}" : isQuick ? " --quick" : "") + $" --out {dir}";
            try
            {
                SharedObjectExperiment.WriteOutputs(dir, rows, sweep, line);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, $"--out '{dir}': {e.Message}"));
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Unsupported,
                    $"--out '{dir}': results.csv and results.json written, but the charts cannot be drawn: SkiaSharp's native library did not load ({(e.InnerException ?? e).Message})"));
            }

            streams.Output.WriteLine($"minihv: {rows.Count} points; {Path.Combine(dir, "summary.md")}, results.csv, results.json and the charts written");
            return Task.FromResult(ExitStatus.Ok);
        });
        return command;
    }

    /// <summary>Null if <paramref name="dir"/> can hold the results (created if need be), else why not: found before a long sweep, not after.</summary>
    private static string? CheckWritable(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".minihv-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return e.Message;
        }
    }
}

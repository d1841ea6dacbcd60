using System.CommandLine;
using MiniHv.Cli.Experiments;
using MiniHv.Cli.Experiments.Sweeps;

namespace MiniHv.Cli.Commands;

/// <summary>
/// <c>minihv experiment</c>: the research experiments, each a sweep of independent runs whose results go to a
/// directory, point by point, so that any part of a sweep runs anywhere (<c>--shard</c>, <c>--points</c>), a killed
/// run resumes, and <c>merge</c> puts the parts back together.
/// </summary>
internal static class ExperimentCommand
{
    public static Command Create(CliStreams streams)
    {
        var command = new Command("experiment", "Run an experiment: a sweep of guest runs, its results as CSV, JSON, a summary and charts.")
        {
            SharedObject(streams),
            Overcommit(streams),
            Merge(streams),
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
        var print = new Option<bool>("--print-config") { Description = "print the built-in sweep (or the --quick one) as YAML and stop" };
        var sweepOptions = new SweepOptions(Path.Combine("results", "sharedobj"));

        var command = new Command("sharedobj", """
            How much memory a shared library saves inside one guest and across guests, and what spoils it:
            guests run libuser against libshared.so (PIC or non-PIC, at a fixed or random address, of some
            size) in several environments, idle, and the sharing engine scans until its counts hold still;
            each point records guest and machine frames, the library's frames, what the guest kernels and
            the hypervisor shared, copy-on-write breaks and the scanner's host time.
            """)
        {
            config, quick, print,
        };
        sweepOptions.AddTo(command);
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

            SharedObjectSweep sweep;
            try
            {
                var (text, source) = path != null ? (File.ReadAllText(path), path)
                    : isQuick ? (SharedObjectConfig.QuickYaml, "built in (--quick)")
                    : (SharedObjectConfig.DefaultYaml, "built in");
                string line = "minihv experiment sharedobj" + (path != null ? $" --config {path}" : isQuick ? " --quick" : "");
                sweep = new SharedObjectSweep(SharedObjectConfig.Parse(text, source), text, line);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, $"--config: {e.Message}"));
            }

            return Task.FromResult(sweepOptions.Run(parse, sweep, streams, cancel));
        });
        return command;
    }

    private static Command Overcommit(CliStreams streams)
    {
        var config = new Option<string?>("--config")
        {
            Description = "the sweep as key=value lines: guests, memory, ratios (by commas), append (see --print-config); default: the built-in sweep",
            HelpName = "FILE",
        };
        var quick = new Option<bool>("--quick") { Description = "a small sweep (4 guests of 16 MiB, ratios 1, 2 and 4) that runs in a few minutes" };
        var print = new Option<bool>("--print-config") { Description = "print the built-in sweep (or the --quick one) and stop" };
        var sweepOptions = new SweepOptions(Path.Combine("results", "overcommit"));
        var command = new Command("overcommit", """
            What page sharing, ballooning and hypervisor swap each buy when the machine has less memory than its
            guests: JOS-style guests (lazyalloc's memory, freed when it exits, beside dedupwork's working set) on
            machines from their RAM together down to a quarter of it (overcommit ratios 1x to 4x), with sharing off
            and across guests and balloons off and on, deterministic; each point records the run's host time, swap
            traffic, what sharing and the balloons reclaimed, and whether the guests printed what they print with
            memory enough (docs/overcommit.md).
            """)
        {
            config, quick, print,
        };
        sweepOptions.AddTo(command);
        command.SetAction((parse, cancel) =>
        {
            string? path = parse.GetValue(config);
            bool isQuick = parse.GetValue(quick);
            if (parse.GetValue(print))
            {
                streams.Output.Write(isQuick ? Experiments.Overcommit.OvercommitConfig.QuickText : Experiments.Overcommit.OvercommitConfig.DefaultText);
                return Task.FromResult(ExitStatus.Ok);
            }

            Experiments.Overcommit.OvercommitSweep sweep;
            try
            {
                var (text, source) = path != null ? (File.ReadAllText(path), path)
                    : isQuick ? (Experiments.Overcommit.OvercommitConfig.QuickText, "built in (--quick)")
                    : (Experiments.Overcommit.OvercommitConfig.DefaultText, "built in");
                string line = "minihv experiment overcommit" + (path != null ? $" --config {path}" : isQuick ? " --quick" : "");
                sweep = new Experiments.Overcommit.OvercommitSweep(Experiments.Overcommit.OvercommitConfig.Parse(text, source), text, line);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, $"--config: {e.Message}"));
            }

            return Task.FromResult(sweepOptions.Run(parse, sweep, streams, cancel));
        });
        return command;
    }

    private static Command Merge(CliStreams streams)
    {
        var output = new Argument<string>("OUT") { Description = "where the merged results go: the point files, results.csv, results.json, summary.md and the charts" };
        var dirs = new Argument<string[]>("DIR") { Description = "the --out directories of the shards", Arity = ArgumentArity.OneOrMore };
        var command = new Command("merge", """
            Put the results of a sweep's shards (the --out directories of runs with --shard or --points,
            from any machines) together: the same results.csv, results.json, summary.md and charts as one
            run of the whole sweep. Shards of different sweeps are refused; missing points are listed.
            """)
        {
            output, dirs,
        };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(output)!;
            string[] shards = parse.GetValue(dirs)!;
            ISweep sweep;
            Dictionary<string, PointRecord> records;
            try
            {
                (sweep, records) = SweepMerge.Gather(shards, KnownSweeps.FromManifest);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return streams.Fail(ExitStatus.Usage, $"merge: {e.Message}");
            }

            List<SweepPointInfo> missing = SweepOutputs.Missing(sweep, records);
            if (missing.Count > 0)
            {
                foreach (SweepPointInfo p in missing)
                    streams.Output.WriteLine($"{p.Id}  {p.Parameters}");
                return streams.Fail(ExitStatus.Usage, $"merge: {missing.Count} of {sweep.Points.Count} points of sweep {sweep.Id} missing "
                    + $"(listed on stdout): {SweepOutputs.Ids(missing.Select(p => p.Id).ToList())}; run them with --points ID,... and merge again");
            }

            if (CheckWritable(dir) is { } unwritable)
                return streams.Fail(ExitStatus.Usage, $"merge: OUT '{dir}': {unwritable}");
            try
            {
                ResultStore store = ResultStore.Open(dir, sweep);
                Dictionary<string, PointRecord> there = store.Load();
                foreach (PointRecord r in records.Values.Where(r => !there.TryGetValue(r.Id, out PointRecord? held) || held != r))
                    store.Write(r);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return streams.Fail(ExitStatus.Usage, $"merge: OUT '{dir}': {e.Message}");
            }

            return WriteOutputs(streams, sweep, records, dir, $"merged {records.Count} points of sweep {sweep.Id} from {shards.Length} director{(shards.Length == 1 ? "y" : "ies")}");
        });
        return command;
    }

    /// <summary>The whole sweep's outputs from its records; a failed point makes the status 12, naming it.</summary>
    private static int WriteOutputs(CliStreams streams, ISweep sweep, IReadOnlyDictionary<string, PointRecord> records, string dir, string what)
    {
        List<PointFailure> failures;
        try
        {
            failures = SweepOutputs.Write(sweep, records, dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return streams.Fail(ExitStatus.Usage, $"--out '{dir}': {e.Message}");
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            return streams.Fail(ExitStatus.Unsupported,
                $"--out '{dir}': results.csv and results.json written, but the charts cannot be drawn: SkiaSharp's native library did not load ({(e.InnerException ?? e).Message})");
        }

        if (failures.Count > 0)
        {
            return streams.Fail(ExitStatus.Unsupported, $"{failures.Count} of {sweep.Points.Count} points failed: {SweepOutputs.Ids(failures.Select(f => f.Id).ToList())} "
                + $"(summary.md lists why); the others' results are in {dir}; run the same command with --retry-failed to try them again");
        }

        streams.Output.WriteLine($"minihv: {what}; {Path.Combine(dir, "summary.md")}, results.csv, results.json and the charts written");
        return ExitStatus.Ok;
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

    /// <summary>The options of every sweep experiment: where results go, how many points at once, and which points (all, a shard, named ones).</summary>
    private sealed class SweepOptions
    {
        private readonly Option<string> _output;
        private readonly Option<int> _jobs = new("--jobs", "-j")
        {
            Description = "sweep points run at once (each on one host thread)",
            HelpName = "N",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 256) r.AddError("--jobs must be from 1 to 256"); } },
        };

        private readonly Option<bool> _list = new("--list-points") { Description = "print the points (of the --shard, or the --points) one a line, id and parameters, and stop" };
        private readonly Option<string?> _shard = new("--shard")
        {
            Description = "run only the points whose position in the sweep modulo N is K (K from 0): N runs, one per K, cover the sweep once",
            HelpName = "K/N",
        };

        private readonly Option<string?> _points = new("--points") { Description = "run only these points (ids from --list-points)", HelpName = "ID,..." };
        private readonly Option<bool> _retry = new("--retry-failed") { Description = "run again the points that failed in an earlier run into the same --out" };

        public SweepOptions(string defaultOut)
        {
            _output = new Option<string>("--out")
            {
                Description = "where results go: a file per point under points/ (a run into the same DIR skips the points done), then results.csv, results.json, summary.md and the charts",
                HelpName = "DIR",
                DefaultValueFactory = _ => defaultOut,
            };
        }

        public void AddTo(Command command)
        {
            foreach (Option o in new Option[] { _output, _jobs, _list, _shard, _points, _retry })
                command.Options.Add(o);
        }

        public int Run(ParseResult parse, ISweep sweep, CliStreams streams, CancellationToken cancel)
        {
            string? shard = parse.GetValue(_shard), ids = parse.GetValue(_points);
            if (shard != null && ids != null)
                return streams.Fail(ExitStatus.Usage, "--shard and --points: give one or the other");
            PointSelection selection;
            List<int> selected;
            try
            {
                selection = shard != null ? PointSelection.ParseShard(shard) : ids != null ? PointSelection.ParseIds(ids) : PointSelection.All;
                selected = selection.Apply(sweep.Points);
            }
            catch (FormatException e)
            {
                return streams.Fail(ExitStatus.Usage, $"{(shard != null ? "--shard" : "--points")}: {e.Message}");
            }

            string part = shard != null ? $"shard {shard}: {selected.Count} of {sweep.Points.Count} points" : $"{selected.Count} of {sweep.Points.Count} points";
            if (parse.GetValue(_list))
            {
                streams.Error.WriteLine($"minihv: sweep {sweep.Id}: {part}");
                foreach (int i in selected)
                    streams.Output.WriteLine($"{sweep.Points[i].Id}  {sweep.Points[i].Parameters}");
                return ExitStatus.Ok;
            }

            string dir = parse.GetValue(_output)!;
            if (CheckWritable(dir) is { } unwritable)
                return streams.Fail(ExitStatus.Usage, $"--out '{dir}': {unwritable}");
            ResultStore store;
            try
            {
                store = ResultStore.Open(dir, sweep);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return streams.Fail(ExitStatus.Usage, $"--out '{dir}': {e.Message}");
            }

            int jobs = parse.GetValue(_jobs);
            streams.Error.WriteLine($"minihv: experiment {sweep.Experiment}: sweep {sweep.Id}, {part}, {jobs} at once; results in {dir}");
            SweepRunSummary run;
            try
            {
                run = SweepRunner.Run(sweep, store, selected, parse.GetValue(_retry), jobs, streams.Error, cancel);
            }
            catch (OperationCanceledException)
            {
                return streams.Fail(ExitStatus.Interrupted, "experiment interrupted; the same command resumes it");
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return streams.Fail(ExitStatus.Usage, $"--out '{dir}': {e.Message}");
            }
            catch (AggregateException e) when (e.InnerExceptions.All(x => x is IOException or UnauthorizedAccessException))
            {
                // A point's file could not be written (a full disk): the points recorded before it stay.
                return streams.Fail(ExitStatus.Usage, $"--out '{dir}': {e.InnerExceptions[0].Message}");
            }

            Dictionary<string, PointRecord> records = store.Load();
            if (selection.IsWhole)
                return WriteOutputs(streams, sweep, records, dir, $"{sweep.Points.Count} points ({run.Ran} run now, {run.AlreadyDone} before)");

            var failed = selected.Select(i => sweep.Points[i].Id).Where(id => records[id].Failed).ToList();
            if (failed.Count > 0)
            {
                return streams.Fail(ExitStatus.Unsupported, $"{part}: {failed.Count} failed: {SweepOutputs.Ids(failed)} (the point files under {Path.Combine(dir, "points")} say why); "
                    + "run the same command with --retry-failed to try them again");
            }

            streams.Output.WriteLine($"minihv: {part} in {dir} ({run.Ran} run now, {run.AlreadyDone} before); "
                + "put the parts together with: minihv experiment merge OUT DIR...");
            return ExitStatus.Ok;
        }
    }
}

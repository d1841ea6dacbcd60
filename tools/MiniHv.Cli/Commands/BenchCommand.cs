using System.CommandLine;
using System.Runtime.InteropServices;
using MiniHv.Cli.Bench;

namespace MiniHv.Cli.Commands;

/// <summary><c>minihv bench</c>: measure MiniHv's speed and print one table, ratios against baselines run alongside.</summary>
internal static class BenchCommand
{
    public static Command Create(CliStreams streams)
    {
        var suite = new Argument<string>("SUITE")
        {
            Description = "what to measure: cpu (the core), system (kernel paths: switches, IPC, system calls, faults, fork; against QEMU when installed), shadow (shadow paging against the plain walk), sharing (scan rate, copy-on-write breaks), overcommit (swap-in and swap-out), smp (one job on 1, 2 and 4 processors; against QEMU when installed), or all",
            DefaultValueFactory = _ => "all",
        };
        suite.AcceptOnlyFromAmong("cpu", "system", "shadow", "sharing", "overcommit", "smp", "all");
        var runs = new Option<int>("--runs")
        {
            Description = "timed runs per benchmark; the table shows their median",
            DefaultValueFactory = _ => 5,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 1000) r.AddError("--runs must be from 1 to 1000"); } },
        };
        var quick = new Option<bool>("--quick") { Description = "short runs, for a smoke test rather than a figure" };

        var command = new Command("bench", """
            Measure MiniHv's speed: medians of --runs timed runs after a warm-up, with each row's ratio to
            a baseline measured in the same run (compare ratios across machines, not absolute figures).
            """)
        {
            suite, runs, quick,
        };
        command.SetAction(parse =>
        {
            var results = new List<BenchResult>();
            string which = parse.GetValue(suite)!;
            if (which is "cpu" or "all")
                results.AddRange(CpuBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick)));
            if (which is "system" or "all")
                results.AddRange(SystemBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick), streams.Error));
            if (which is "shadow" or "all")
                results.AddRange(ShadowBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick)));
            if (which is "sharing" or "all")
                results.AddRange(SharingBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick)));
            if (which is "overcommit" or "all")
                results.AddRange(OvercommitBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick)));
            if (which is "smp" or "all")
                results.AddRange(SmpBenchmarks.Run(parse.GetValue(runs), parse.GetValue(quick), streams.Error));
            string machine = $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
            BenchTable.Write(streams.Output, results, machine);
            return ExitStatus.Ok;
        });
        return command;
    }
}

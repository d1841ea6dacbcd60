namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>One point of a sweep: an id made from its parameters (so it names the same run in any shard, in any order), and those parameters for people.</summary>
internal sealed record SweepPointInfo(string Id, string Parameters);

/// <summary>A point that failed: its id, its parameters and why.</summary>
internal sealed record PointFailure(string Id, string Parameters, string Error);

/// <summary>
/// An experiment's sweep as the machinery that lists it, cuts it into shards, resumes it and merges it sees it:
/// points that are independent runs, each giving one result as JSON, and the outputs a whole sweep's results make.
/// </summary>
internal interface ISweep
{
    /// <summary>The experiment's name, as <c>minihv experiment NAME</c> spells it.</summary>
    string Experiment { get; }

    /// <summary>The sweep's identity: a hash of its config's settings and points (<see cref="SweepIdentity"/>).</summary>
    string Id { get; }

    /// <summary>Every point, in the config's order (the order of the rows and of <c>--shard</c>).</summary>
    IReadOnlyList<SweepPointInfo> Points { get; }

    /// <summary>The config as given (YAML or JSON) and where it came from: enough to build the same sweep again when merging.</summary>
    string ConfigText { get; }

    string ConfigSource { get; }

    /// <summary>The command line that runs the whole sweep, without <c>--out</c>.</summary>
    string Command { get; }

    /// <summary>Runs point <paramref name="index"/> and returns its result as a JSON object; throws if the point fails.</summary>
    string RunPoint(int index);

    /// <summary>A few words on a result for the progress lines.</summary>
    string Describe(string result);

    /// <summary>Writes the sweep's outputs into <paramref name="dir"/> from the results of its points (the config's order) and its failures.</summary>
    void WriteOutputs(string dir, IReadOnlyList<string> results, IReadOnlyList<PointFailure> failures, string command);
}

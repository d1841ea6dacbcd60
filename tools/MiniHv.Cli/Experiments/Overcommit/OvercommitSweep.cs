using System.Text.Json;
using System.Text.Json.Serialization;
using MiniHv.Cli.Experiments.Sweeps;

namespace MiniHv.Cli.Experiments.Overcommit;

/// <summary>
/// The overcommit experiment as a sweep the generic machinery runs in shards, resumes and merges: a point's id spells
/// its ratio, sharing and balloon setting, its result is the <see cref="OvercommitResult"/> as JSON.
/// </summary>
internal sealed class OvercommitSweep : ISweep
{
    public const string Name = "overcommit";

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly OvercommitConfig _config;
    private readonly Lazy<byte[]> _image = new(EmbeddedGuests.Jos);

    public OvercommitSweep(OvercommitConfig config, string configText, string command)
    {
        _config = config;
        ConfigText = configText;
        Command = command;
        Points = config.Points.Select(p => new SweepPointInfo(p.Id, p.Parameters)).ToList();
        Id = SweepIdentity.Of(Name, $"guests={config.Guests} memory={config.MemoryBytes} append={config.Append}\n"
            + string.Join("\n", config.Points.Select(p => p.Parameters)));
    }

    public string Experiment => Name;

    public string Id { get; }

    public IReadOnlyList<SweepPointInfo> Points { get; }

    public string ConfigText { get; }

    public string ConfigSource => _config.Source;

    public string Command { get; }

    /// <exception cref="FormatException">Its config does not parse.</exception>
    public static OvercommitSweep FromManifest(SweepManifest m) => new(OvercommitConfig.Parse(m.Config, m.ConfigSource), m.Config, m.Command);

    public string RunPoint(int index) => JsonSerializer.Serialize(OvercommitPointRunner.Run(_config.Points[index], _config, _image.Value), Json);

    public string Describe(string result)
    {
        OvercommitResult r = Parse(result);
        return $"{r.CpuSeconds:0.0} CPU s, swapped out {r.SwappedOut}, in {r.SwappedIn}, balloons gave {r.ReclaimedByBalloon}{(r.Completed ? "" : ", NOT completed")}";
    }

    public void WriteOutputs(string dir, IReadOnlyList<string> results, IReadOnlyList<PointFailure> failures, string command)
        => OvercommitOutputs.Write(dir, results.Select(Parse).ToList(), _config, command, failures);

    private static OvercommitResult Parse(string result) => JsonSerializer.Deserialize<OvercommitResult>(result, Json)!;
}

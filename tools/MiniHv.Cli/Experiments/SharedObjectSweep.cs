using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MiniHv.Cli.Experiments.Sweeps;

namespace MiniHv.Cli.Experiments;

/// <summary>
/// The shared-object experiment as a sweep the generic machinery runs in shards, resumes and merges: a point's id
/// spells its parameters, its result is the <see cref="PointResult"/> as JSON (every field, doubles exactly), and the
/// outputs are the experiment's results.csv, results.json, summary.md and charts.
/// </summary>
internal sealed class SharedObjectSweep : ISweep
{
    public const string Name = "sharedobj";

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly SharedObjectConfig _config;
    private readonly ConcurrentDictionary<string, byte[]> _kernels = new();

    public SharedObjectSweep(SharedObjectConfig config, string configText, string command)
    {
        _config = config;
        ConfigText = configText;
        Command = command;
        Points = config.Points.Select(p => new SweepPointInfo(PointId(p), Parameters(p))).ToList();
        Id = SweepIdentity.Of(Name, Canonical(config));
    }

    public string Experiment => Name;

    public string Id { get; }

    public IReadOnlyList<SweepPointInfo> Points { get; }

    public string ConfigText { get; }

    public string ConfigSource => _config.Source;

    public string Command { get; }

    /// <summary>The sweep a results directory's manifest describes.</summary>
    /// <exception cref="FormatException">Its config does not parse.</exception>
    public static SharedObjectSweep FromManifest(SweepManifest m) => new(SharedObjectConfig.Parse(m.Config, m.ConfigSource), m.Config, m.Command);

    /// <summary>The point's parameters, short: g4-e2-load-1024k-pic-aslr0-all-t25.</summary>
    public static string PointId(SweepPoint p)
        => $"g{p.Guests}-e{p.EnvsPerGuest}-{p.Spawn}-{p.LibKib}k-{p.Variant}-aslr{p.Aslr}-{Lower(p.Sharing)}-t{p.TouchPct}";

    public string RunPoint(int index)
        => JsonSerializer.Serialize(PointRunner.Run(_config.Points[index], _config, name => _kernels.GetOrAdd(name, SharedObjectExperiment.EmbeddedKernel)), Json);

    public string Describe(string result)
    {
        PointResult r = Parse(result);
        return $"library {r.LibMachineFrames} machine frames, all {r.MachineFrames}{(r.Settled ? "" : " (not settled)")}";
    }

    public void WriteOutputs(string dir, IReadOnlyList<string> results, IReadOnlyList<PointFailure> failures, string command)
        => SharedObjectExperiment.WriteOutputs(dir, results.Select(Parse).ToList(), _config, command, failures);

    public static PointResult Parse(string result) => JsonSerializer.Deserialize<PointResult>(result, Json)!;

    private static string Parameters(SweepPoint p)
        => $"sweep={p.Sweep} guests={p.Guests} envs_per_guest={p.EnvsPerGuest} spawn={p.Spawn} lib_kib={p.LibKib} variant={p.Variant} "
            + $"aslr={p.Aslr} sharing={Lower(p.Sharing)} touch_pct={p.TouchPct}";

    /// <summary>Everything that decides what the sweep's rows hold, in a fixed spelling: the settings, then every point in order.</summary>
    private static string Canonical(SharedObjectConfig c)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"memory={c.MemoryBytes} scan_rate={c.ScanRate} quantum={c.Quantum} idle_ticks={c.IdleTicks} max_scans={c.MaxScans} ");
        sb.Append(CultureInfo.InvariantCulture, $"seed={c.Seed} same_seed={c.SameSeed} salt_groups={c.SaltGroups} lib_calls={c.LibCalls}\n");
        foreach (SweepPoint p in c.Points)
            sb.Append(Parameters(p)).Append('\n');
        return sb.ToString();
    }

    private static string Lower(Hv.Sharing.SharingPolicy s) => s.ToString().ToLowerInvariant();
}

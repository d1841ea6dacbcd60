using System.Text.Json;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>
/// sweep.json in a results directory: which sweep its point results belong to (experiment, id, point count) and the
/// config itself, so a merge can check that shards belong together and build the sweep's outputs from them alone.
/// </summary>
internal sealed record SweepManifest(string Experiment, string SweepId, int Points, string Command, string ConfigSource, string Config)
{
    public const string FileName = "sweep.json";

    public static SweepManifest Of(ISweep sweep)
        => new(sweep.Experiment, sweep.Id, sweep.Points.Count, sweep.Command, sweep.ConfigSource, sweep.ConfigText);

    /// <summary>A few words for messages: which sweep this is.</summary>
    public string Describe() => $"sweep {SweepId} ({Command}, {Points} points)";

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("experiment", Experiment);
            json.WriteString("sweep_id", SweepId);
            json.WriteNumber("points", Points);
            json.WriteString("command", Command);
            json.WriteString("config_source", ConfigSource);
            json.WriteString("config", Config);
            json.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <exception cref="FormatException">Not a manifest; the message names the file.</exception>
    public static SweepManifest Parse(string text, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            JsonElement r = doc.RootElement;
            return new SweepManifest(r.GetProperty("experiment").GetString()!, r.GetProperty("sweep_id").GetString()!,
                r.GetProperty("points").GetInt32(), r.GetProperty("command").GetString()!,
                r.GetProperty("config_source").GetString()!, r.GetProperty("config").GetString()!);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"{path}: not a sweep manifest ({e.Message})", e);
        }
    }
}

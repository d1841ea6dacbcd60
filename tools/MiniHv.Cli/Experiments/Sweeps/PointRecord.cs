using System.Text.Json;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>What became of one point: its result (a JSON object), or the error it failed with.</summary>
internal sealed record PointRecord(string SweepId, string Id, string? Result, string? Error)
{
    public bool Failed => Result == null;

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("sweep_id", SweepId);
            json.WriteString("point", Id);
            json.WriteString("status", Failed ? "failed" : "done");
            if (Failed)
                json.WriteString("error", Error);
            else
            {
                json.WritePropertyName("result");
                json.WriteRawValue(Result!);
            }

            json.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <exception cref="FormatException">Not a point record; the message names the file.</exception>
    public static PointRecord Parse(byte[] bytes, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            JsonElement r = doc.RootElement;
            string sweep = r.GetProperty("sweep_id").GetString()!, id = r.GetProperty("point").GetString()!;
            return r.GetProperty("status").GetString() switch
            {
                "done" => new PointRecord(sweep, id, r.GetProperty("result").GetRawText(), null),
                "failed" => new PointRecord(sweep, id, null, r.GetProperty("error").GetString()),
                string s => throw new FormatException($"status '{s}'"),
                null => throw new FormatException("no status"),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"{path}: not a point result ({e.Message})", e);
        }
    }
}

using System.Text.Json;
using MiniHv.Cli.Stats;

namespace MiniHv.Cli.Report;

/// <summary>A statistics file that <c>minihv report</c> cannot read, with the one line that says why.</summary>
internal sealed class StatsFileException(string message) : Exception(message);

/// <summary>
/// Reads what <c>minihv run --stats</c> wrote back into its <see cref="StatsDocument"/>, refusing, with one
/// clear line, a file that is missing, not JSON, of another format or of a version this minihv does not read.
/// </summary>
internal static class StatsFile
{
    /// <summary>
    /// The writer's options, made strict: a member the document needs that is missing or null is an error, not a
    /// zero, so that no number in a report is one the file never had.
    /// </summary>
    private static readonly JsonSerializerOptions Strict = new(StatsWriter.Json)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    public static StatsDocument Load(string path)
    {
        byte[] bytes = ReadBytes(path);
        ReadOnlyMemory<byte> json = bytes.AsMemory();
        if (json.Span.StartsWith("\uFEFF"u8))
            json = json[3..];

        CheckFormatAndVersion(path, json);
        try
        {
            return JsonSerializer.Deserialize<StatsDocument>(json.Span, Strict)
                ?? throw new StatsFileException($"{path}: the file holds null, not a {StatsDocument.FormatName} document");
        }
        catch (JsonException e)
        {
            throw new StatsFileException($"{path}: not a valid {StatsDocument.FormatName} version {StatsDocument.CurrentVersion} file: "
                + $"{FirstSentence(e.Message)}{Where(e)}");
        }
    }

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StatsFileException($"{path}: no such file (write one with 'minihv run --stats FILE')");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StatsFileException($"{path}: cannot read it: {e.Message}");
        }
    }

    /// <summary>Looks at "format" and "version" before anything else, so an old or new file is named as such, not as broken.</summary>
    private static void CheckFormatAndVersion(string path, ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new StatsFileException($"{path}: not JSON{Where(e)}: {FirstSentence(e.Message)}");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("format", out JsonElement format) || format.ValueKind != JsonValueKind.String)
            {
                throw new StatsFileException($"{path}: not a minihv statistics file (it has no \"format\": \"{StatsDocument.FormatName}\"; "
                    + "write one with 'minihv run --stats FILE')");
            }

            if (format.GetString() != StatsDocument.FormatName)
                throw new StatsFileException($"{path}: a file of format \"{format.GetString()}\", not \"{StatsDocument.FormatName}\" (write one with 'minihv run --stats FILE')");

            if (!root.TryGetProperty("version", out JsonElement v) || !v.TryGetInt32(out int version))
                throw new StatsFileException($"{path}: a {StatsDocument.FormatName} file without a whole-number \"version\"");
            if (version > StatsDocument.CurrentVersion)
            {
                throw new StatsFileException($"{path}: {StatsDocument.FormatName} version {version} is newer than this minihv reads "
                    + $"(version {StatsDocument.CurrentVersion}); report it with the minihv that wrote it");
            }

            if (version < StatsDocument.CurrentVersion)
            {
                throw new StatsFileException($"{path}: {StatsDocument.FormatName} version {version} is older than this minihv reads "
                    + $"(version {StatsDocument.CurrentVersion}); run the guests again with this minihv's 'run --stats'");
            }
        }
    }

    /// <summary>" (line L, column C[, at $.path])" from a JsonException, counting from 1 as editors do.</summary>
    private static string Where(JsonException e)
    {
        var parts = new List<string>();
        if (e.LineNumber is long line)
            parts.Add($"line {line + 1}");
        if (e.BytePositionInLine is long column)
            parts.Add($"column {column + 1}");
        if (!string.IsNullOrEmpty(e.Path) && e.Path != "$")
            parts.Add($"at {e.Path}");
        return parts.Count == 0 ? "" : $" ({string.Join(", ", parts)})";
    }

    /// <summary>The reader's message on one line, without the position it appends (<see cref="Where"/> gives it) or our namespace.</summary>
    private static string FirstSentence(string message)
    {
        int cut = new[] { message.IndexOf(" LineNumber:", StringComparison.Ordinal), message.IndexOf(" Path:", StringComparison.Ordinal) }
            .Where(i => i >= 0).DefaultIfEmpty(message.Length).Min();
        string text = message[..cut].Replace(typeof(StatsDocument).Namespace + ".", "", StringComparison.Ordinal);
        return text.ReplaceLineEndings(" ").Trim();
    }
}

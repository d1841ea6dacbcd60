using System.Text.Encodings.Web;
using System.Text.Json;
using MiniHv.Cli.Stats;

namespace MiniHv.Cli.Report;

/// <summary>
/// The report as one flat JSON object for scripts: every named value of every section at the top level under its
/// stats-file name, by_content and its shares, then one object per guest and the totals, with the csv's columns.
/// Values are exact (the file's, or the documented derivations); a value the file lacks, or a fraction that is not
/// a number, is null.
/// </summary>
internal static class JsonReport
{
    public const string FormatName = "minihv-report";
    public const int Version = 1;

    public static void Write(Stream output, RunReport report)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("format", FormatName);
        json.WriteNumber("version", Version);
        json.WriteString("stats_format", $"{StatsDocument.FormatName} {report.Stats.Version}");
        foreach (ReportSection section in report.Sections)
        {
            foreach (ReportItem item in section.Items)
                Value(json, item.Key, item.Value);
        }

        json.WriteStartObject("by_content");
        foreach (ContentRow row in report.Content)
            Value(json, row.Kind, row.Frames);
        json.WriteEndObject();
        json.WriteStartObject("by_content_share");
        foreach (ContentRow row in report.Content)
            Value(json, row.Kind, row.Share);
        json.WriteEndObject();

        json.WriteStartArray("guests");
        foreach (GuestStats guest in report.Stats.Guests)
        {
            json.WriteStartObject();
            foreach (GuestColumn c in report.GuestColumns)
                Value(json, c.Key, c.Value(guest));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("totals");
        foreach (GuestColumn c in report.GuestColumns.Where(c => c.Key != "name"))
            Value(json, c.Key, c.Total);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void Value(Utf8JsonWriter json, string key, ReportValue value)
    {
        switch (value.Exact)
        {
            case long n:
                json.WriteNumber(key, n);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumber(key, d);
                break;
            case string s:
                json.WriteString(key, s);
                break;
            default:
                json.WriteNull(key);
                break;
        }
    }
}

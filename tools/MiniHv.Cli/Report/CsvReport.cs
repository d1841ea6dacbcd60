namespace MiniHv.Cli.Report;

/// <summary>
/// The per-guest table as CSV (RFC 4180: comma-separated, CRLF line ends, fields with a comma, a quote or a line
/// break quoted, quotes doubled): a header, one row per guest, then the totals row. Values are exact; a value the
/// file lacks is an empty field. Every column is always there, whatever the run had, so scripts can rely on them.
/// </summary>
internal static class CsvReport
{
    public static void Write(TextWriter output, RunReport report)
    {
        IReadOnlyList<GuestColumn> columns = report.GuestColumns;
        Line(output, columns.Select(c => c.Key));
        foreach (var guest in report.Stats.Guests)
            Line(output, columns.Select(c => c.Value(guest).ExactText));
        Line(output, columns.Select(c => c.Total.ExactText));
    }

    private static void Line(TextWriter output, IEnumerable<string> fields)
    {
        output.Write(string.Join(",", fields.Select(Field)));
        output.Write("\r\n");
    }

    public static string Field(string value)
        => value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}

namespace MiniHv.Cli.Report;

/// <summary>A table as the table, markdown and html formats print it: text cells, which columns are numbers, notes under it.</summary>
internal sealed record TextTable(string Title, string[] Headers, bool[] Numeric, IReadOnlyList<string[]> Rows, IReadOnlyList<string> Notes, string? Absent)
{
    /// <summary>Whether the last row is a totals row (printed apart where the format can).</summary>
    public bool HasTotals { get; init; }
}

/// <summary>The report's tables, the same for every format that prints tables.</summary>
internal static class ReportTables
{
    public static IReadOnlyList<TextTable> For(RunReport report)
    {
        var tables = new List<TextTable>();
        foreach (ReportSection section in report.Sections)
        {
            List<string[]> rows = section.Absent != null ? [] : section.Items.Where(i => !i.Value.IsNone).Select(i => new[] { i.Key, i.Value.Text, i.Note }).ToList();
            bool numbers = section.Items.All(i => i.Value.IsNumber || i.Value.IsNone);
            tables.Add(new TextTable(section.Title, ["name", "value", "what it is"], [false, numbers, false], rows, [], section.Absent));
        }

        tables.Add(Content(report));
        tables.Add(Guests(report));
        return tables;
    }

    private static TextTable Content(RunReport report)
    {
        const string title = "What the shared frames hold (sharing.by_content)";
        if (!report.HasSharing)
            return new TextTable(title, ["kind", "frames", "share"], [false, true, true], [], [], "not in this run: it had no sharing engine");
        var rows = report.Content.Select(c => new[] { c.Kind, c.Frames.Text, c.Share.Text }).ToList();
        long sum = report.Content.Sum(c => (long)(c.Frames.Exact ?? 0L));
        return new TextTable(title, ["kind", "frames", "share"], [false, true, true], rows,
        [
            "guest frames on a shared frame or on the zero frame, at the full scan that saved the most",
            $"share: frames / all {sum} frames counted",
        ], report.Content.Count == 0 ? "the file's by_content is empty" : null);
    }

    private static TextTable Guests(RunReport report)
    {
        GuestColumn[] columns = report.TableColumns().ToArray();
        var rows = report.Stats.Guests.Select(g => columns.Select(c => c.Value(g).Text).ToArray()).ToList();
        bool totals = report.Stats.Guests.Count > 1;
        if (totals)
            rows.Add(columns.Select(c => c.Total.IsNone ? "" : c.Total.Text).ToArray());
        bool[] numeric = columns.Select(c => c.Key is not ("name" or "exit_reason")).ToArray();
        return new TextTable("Guests", columns.Select(c => c.Header).ToArray(), numeric, rows, report.GuestNotes().ToList(),
            report.Stats.Guests.Count == 0 ? "the file has no guests" : null) { HasTotals = totals };
    }
}

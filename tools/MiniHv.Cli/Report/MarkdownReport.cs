namespace MiniHv.Cli.Report;

/// <summary>The report as GitHub-flavoured markdown: a heading and a pipe table per section, numbers right-aligned.</summary>
internal static class MarkdownReport
{
    public static void Write(TextWriter output, RunReport report)
    {
        output.WriteLine($"# minihv report: {Cell(report.Source)}");
        foreach (TextTable t in ReportTables.For(report))
        {
            output.WriteLine();
            output.WriteLine($"## {Cell(t.Title)}");
            output.WriteLine();
            if (t.Absent != null)
            {
                output.WriteLine($"{Cell(t.Absent[..1].ToUpperInvariant())}{Cell(t.Absent[1..])}.");
                continue;
            }

            output.WriteLine("| " + string.Join(" | ", t.Headers.Select(Cell)) + " |");
            output.WriteLine("|" + string.Join("|", t.Numeric.Select(n => n ? " ---: " : " --- ")) + "|");
            for (int r = 0; r < t.Rows.Count; r++)
            {
                bool totals = t.HasTotals && r == t.Rows.Count - 1;
                output.WriteLine("| " + string.Join(" | ", t.Rows[r].Select(c => totals && c.Length > 0 ? $"**{Cell(c)}**" : Cell(c))) + " |");
            }

            if (t.Notes.Count > 0)
            {
                output.WriteLine();
                foreach (string note in t.Notes)
                    output.WriteLine($"- {Cell(note)}");
            }
        }
    }

    /// <summary>Text safe in a table cell: pipes, backslashes and the characters of emphasis, code, html and links escaped; no line breaks (an underscore inside a word is no emphasis and stays).</summary>
    private static string Cell(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        foreach (char ch in text.ReplaceLineEndings(" "))
        {
            if (ch is '|' or '\\' or '*' or '`' or '<' or '>' or '[' or ']')
                sb.Append('\\');
            sb.Append(ch);
        }

        return sb.ToString();
    }
}

using System.Net;

namespace MiniHv.Cli.Report;

/// <summary>
/// The report as one self-contained HTML page: inline CSS, the same tables as the terminal, and the chart when one
/// was drawn (an SVG inline, a PNG as a data: URI), so the page needs nothing beside it and loads nothing.
/// </summary>
internal static class HtmlReport
{
    private const string Css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #1b1f24; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
        table { border-collapse: collapse; margin: 0.4em 0; }
        th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; }
        th { background: #f6f8fa; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.total td { font-weight: bold; border-top: 2px solid #8c959f; }
        p.absent, ul.notes { color: #57606a; font-size: 0.9em; }
        figure { margin: 1.6em 0; } figure svg, figure img { max-width: 100%; height: auto; }
        code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
        """;

    /// <param name="chart">The chart file that was drawn, or null.</param>
    public static void Write(TextWriter output, RunReport report, ChartFile? chart)
    {
        string title = $"minihv report: {report.Source}";
        output.WriteLine("<!DOCTYPE html>");
        output.WriteLine("<html lang=\"en\">");
        output.WriteLine("<head>");
        output.WriteLine("<meta charset=\"utf-8\">");
        output.WriteLine($"<title>{E(title)}</title>");
        output.WriteLine($"<style>\n{Css}\n</style>");
        output.WriteLine("</head>");
        output.WriteLine("<body>");
        output.WriteLine($"<h1>minihv report: <code>{E(report.Source)}</code></h1>");
        foreach (TextTable t in ReportTables.For(report))
            Table(output, t);
        if (chart != null)
            Figure(output, chart);
        output.WriteLine("</body>");
        output.WriteLine("</html>");
    }

    private static void Table(TextWriter output, TextTable t)
    {
        output.WriteLine($"<h2>{E(t.Title)}</h2>");
        if (t.Absent != null)
        {
            output.WriteLine($"<p class=\"absent\">{E(t.Absent)}</p>");
            return;
        }

        output.WriteLine("<table>");
        output.WriteLine("<thead><tr>" + string.Concat(t.Headers.Select((h, c) => $"<th{Num(t, c)}>{E(h)}</th>")) + "</tr></thead>");
        output.WriteLine("<tbody>");
        for (int r = 0; r < t.Rows.Count; r++)
        {
            string row = t.HasTotals && r == t.Rows.Count - 1 ? "<tr class=\"total\">" : "<tr>";
            output.WriteLine(row + string.Concat(t.Rows[r].Select((cell, c) => $"<td{Num(t, c)}>{E(cell)}</td>")) + "</tr>");
        }

        output.WriteLine("</tbody>");
        output.WriteLine("</table>");
        if (t.Notes.Count > 0)
            output.WriteLine("<ul class=\"notes\">" + string.Concat(t.Notes.Select(n => $"<li>{E(n)}</li>")) + "</ul>");
    }

    private static void Figure(TextWriter output, ChartFile chart)
    {
        output.WriteLine("<h2>Chart</h2>");
        output.WriteLine("<figure>");
        if (chart.IsSvg)
        {
            string svg = File.ReadAllText(chart.Path);
            int start = svg.IndexOf("<svg", StringComparison.Ordinal);
            output.WriteLine(start >= 0 ? svg[start..] : svg);
        }
        else
        {
            string data = Convert.ToBase64String(File.ReadAllBytes(chart.Path));
            output.WriteLine($"<img alt=\"{E(ReportChart.Description)}\" src=\"data:image/png;base64,{data}\">");
        }

        output.WriteLine($"<figcaption>{E(ReportChart.Description)}</figcaption>");
        output.WriteLine("</figure>");
    }

    private static string Num(TextTable t, int column) => t.Numeric[column] ? " class=\"num\"" : "";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}

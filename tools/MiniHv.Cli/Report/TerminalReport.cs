using Spectre.Console;

namespace MiniHv.Cli.Report;

/// <summary>The report as Spectre.Console tables: styles and the terminal's width on a terminal, plain text otherwise.</summary>
internal static class TerminalReport
{
    /// <summary>Wide enough for the guests table when nothing tells the width (a pipe, a file, a test).</summary>
    public const int RedirectedWidth = 160;

    public static void Write(TextWriter writer, RunReport report)
    {
        IAnsiConsole console = ConsoleOn(writer);
        console.Write(new Rule($"[bold]minihv report[/] {Markup.Escape(report.Source)}").LeftJustified());
        foreach (TextTable t in ReportTables.For(report))
        {
            console.WriteLine();
            if (t.Absent != null)
            {
                console.MarkupLine($"[bold]{Markup.Escape(t.Title)}[/]: {Markup.Escape(t.Absent)}");
                continue;
            }

            console.MarkupLine($"[bold]{Markup.Escape(t.Title)}[/]");
            console.Write(Render(t));
            foreach (string note in t.Notes)
                console.MarkupLine($"  [dim]{Markup.Escape(note)}[/]");
        }

        writer.Flush();
    }

    /// <summary>
    /// A console on <paramref name="writer"/>: ANSI styles (and colors, as Spectre detects them) only when it is the
    /// process's own terminal; otherwise no escape codes at all, and a fixed width so the layout does not depend on
    /// where the output goes.
    /// </summary>
    public static IAnsiConsole ConsoleOn(TextWriter writer)
    {
        var output = new AnsiConsoleOutput(writer);
        bool terminal = output.IsTerminal;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = output,
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
            console.Profile.Width = RedirectedWidth;
        return console;
    }

    /// <summary>One Spectre table; a totals row becomes the table's footer, below a rule.</summary>
    private static Table Render(TextTable t)
    {
        var table = new Table { Border = TableBorder.Rounded, ShowFooters = t.HasTotals };
        int body = t.HasTotals ? t.Rows.Count - 1 : t.Rows.Count;
        for (int c = 0; c < t.Headers.Length; c++)
        {
            var column = new TableColumn(Markup.Escape(t.Headers[c]));
            if (t.Numeric[c])
                column.RightAligned();
            if (t.HasTotals)
                column.Footer = new Markup($"[bold]{Markup.Escape(t.Rows[^1][c])}[/]");
            table.AddColumn(column);
        }

        for (int r = 0; r < body; r++)
            table.AddRow(t.Rows[r].Select(Markup.Escape).ToArray());
        return table;
    }
}

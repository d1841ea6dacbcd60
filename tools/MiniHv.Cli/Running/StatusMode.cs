namespace MiniHv.Cli.Running;

/// <summary>How <c>minihv run</c> shows a run's progress (<c>--status</c>).</summary>
internal enum StatusMode
{
    /// <summary>A live table on a terminal when several guests run, plain lines when stderr is not a terminal, nothing for one guest.</summary>
    Auto,

    /// <summary>A live table on stderr (Spectre.Console), refreshed a few times a second.</summary>
    Table,

    /// <summary>A plain line on stderr every few seconds: for CI logs and pipes.</summary>
    Lines,

    /// <summary>Nothing while the run goes on.</summary>
    Off,
}

namespace MiniHv.Cli;

/// <summary>The streams a command uses: the process's own, or a test's.</summary>
internal sealed class CliStreams
{
    /// <param name="serialOut">Where guest COM1 output goes (raw bytes).</param>
    /// <param name="serialIn">Where guest COM1 input comes from, or null for none.</param>
    public CliStreams(Stream serialOut, Stream? serialIn, TextWriter output, TextWriter error)
    {
        SerialOut = serialOut;
        SerialIn = serialIn;
        Output = output;
        Error = error;
    }

    public Stream SerialOut { get; }

    public Stream? SerialIn { get; }

    /// <summary>minihv's own output (reports, tables).</summary>
    public TextWriter Output { get; }

    /// <summary>Messages about what went wrong.</summary>
    public TextWriter Error { get; }

    /// <summary>True when stdout is a terminal a person watches (not a file or a pipe).</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>True when stderr is a terminal: live status goes there.</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>The process's stdout (buffered; flushed by the runner) and stdin.</summary>
    public static CliStreams ForConsole()
    {
        var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
        return new CliStreams(stdout, Console.OpenStandardInput(), Console.Out, Console.Error)
        {
            OutputIsTerminal = !Console.IsOutputRedirected,
            ErrorIsTerminal = !Console.IsErrorRedirected,
        };
    }

    /// <summary>Print "minihv: MESSAGE" on the error stream and return <paramref name="status"/>.</summary>
    public int Fail(int status, string message)
    {
        Error.WriteLine($"minihv: {message}");
        Error.Flush();
        return status;
    }
}

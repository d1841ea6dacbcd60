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

    /// <summary>The process's stdout (buffered; flushed by the runner) and stdin.</summary>
    public static CliStreams ForConsole()
    {
        var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
        return new CliStreams(stdout, Console.OpenStandardInput(), Console.Out, Console.Error);
    }

    /// <summary>Print "minihv: MESSAGE" on the error stream and return <paramref name="status"/>.</summary>
    public int Fail(int status, string message)
    {
        Error.WriteLine($"minihv: {message}");
        Error.Flush();
        return status;
    }
}

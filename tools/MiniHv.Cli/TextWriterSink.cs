using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace MiniHv.Cli;

/// <summary>
/// A Serilog sink onto a <see cref="TextWriter"/> (the CLI's error stream, a test's StringWriter): Serilog 4
/// ships none, and its console sink cannot write to a stream it was handed.
/// </summary>
internal sealed class TextWriterSink : ILogEventSink
{
    private readonly ITextFormatter _formatter;
    private readonly TextWriter _output;
    private readonly Lock _lock = new();

    public TextWriterSink(ITextFormatter formatter, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        ArgumentNullException.ThrowIfNull(output);
        _formatter = formatter;
        _output = output;
    }

    public void Emit(LogEvent logEvent)
    {
        // Guests log from their own threads: one event's text must never interleave with another's.
        lock (_lock)
        {
            _formatter.Format(logEvent, _output);
            _output.Flush();
        }
    }
}

using System.Globalization;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace MiniHv.Cli;

/// <summary>
/// Where guests' fault events go: one human line each on the console, and optionally one compact JSON object
/// per line (CLEF, Serilog's compact event format) in a file. The console is stderr, never stdout, which
/// carries the guest's COM1 and must stay byte for byte the guest's transcript.
/// </summary>
/// <remarks>
/// JSON lines come from <see cref="RenderedCompactJsonFormatter"/>: <c>@t</c> (timestamp), <c>@m</c> (the
/// console line), <c>@i</c> (template id), <c>@l</c> (level, absent for Information), then the event's
/// properties as <c>MiniHv.Hv.Faults.FaultLogEvents.Names</c> lists them, numbers as JSON numbers.
/// Sampling is the fault logs' business (<c>FaultLogPolicy</c>), so every level is let through here.
/// </remarks>
internal static class FaultLogSinks
{
    /// <summary>The console line: the rendered message alone, which is <c>FaultFormatter.Line</c>.</summary>
    public const string ConsoleTemplate = "{Message:lj}{NewLine}";

    /// <summary>
    /// A configuration writing the human line to <paramref name="console"/> (for <c>minihv run</c>: the error
    /// stream) and, when <paramref name="jsonPath"/> is given, JSON lines to that file (created or replaced).
    /// The caller must dispose the logger it creates, so the file is flushed and closed.
    /// </summary>
    public static LoggerConfiguration Configure(TextWriter? console, string? jsonPath)
    {
        LoggerConfiguration config = ToWriters(console, json: null);
        if (jsonPath != null)
            config.WriteTo.File(new RenderedCompactJsonFormatter(), jsonPath, buffered: false);
        return config;
    }

    /// <summary>The same with the JSON lines going to a writer (tests, or a pipe) instead of a file.</summary>
    public static LoggerConfiguration ToWriters(TextWriter? console, TextWriter? json)
    {
        var config = new LoggerConfiguration().MinimumLevel.Is(LogEventLevel.Verbose);
        if (console != null)
            config.WriteTo.Sink(new TextWriterSink(new MessageTemplateTextFormatter(ConsoleTemplate, CultureInfo.InvariantCulture), console));
        if (json != null)
            config.WriteTo.Sink(new TextWriterSink(new RenderedCompactJsonFormatter(), json));
        return config;
    }
}

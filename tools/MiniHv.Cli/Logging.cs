using Serilog;
using Serilog.Events;

namespace MiniHv.Cli;

/// <summary>The host's log: minihv's own messages on stderr, quiet unless asked.</summary>
internal static class Logging
{
    public static ILogger ToStderr(bool verbose)
        => new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Information : LogEventLevel.Warning)
            .WriteTo.Console(
                outputTemplate: "minihv: {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose)
            .CreateLogger();
}

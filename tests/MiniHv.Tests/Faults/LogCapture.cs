using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace MiniHv.Tests.Faults;

/// <summary>A Serilog sink that keeps every event, and a logger writing to it at every level.</summary>
internal sealed class LogCapture : ILogEventSink
{
    public LogCapture()
    {
        Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(this).CreateLogger();
    }

    public List<LogEvent> Events { get; } = new();

    public ILogger Logger { get; }

    public void Emit(LogEvent logEvent) => Events.Add(logEvent);

    /// <summary>The scalar value of property <paramref name="name"/> of event <paramref name="index"/>.</summary>
    public object? Value(int index, string name) => ((ScalarValue)Events[index].Properties[name]).Value;
}

/// <summary>A clock that moves only when told, for per-second sampling.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => 1000;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += (long)(by.TotalSeconds * TimestampFrequency);
}

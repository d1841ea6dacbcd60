using System.Diagnostics;
using System.Text;

namespace MiniHv.Cli.Bench;

/// <summary>
/// The host time between two lines a guest prints on its serial port: the line that starts with
/// <see cref="StartPrefix"/> and the first one after it that starts with <see cref="EndPrefix"/>, each taken when its
/// line ends (the newline is the last byte the guest sends of it). Fed byte by byte as the guest writes them, on the
/// thread that writes, so the two points are the moments the guest reached them, whatever ran before and after.
/// </summary>
internal sealed class SerialMarks
{
    private readonly StringBuilder _line = new();
    private long _start;
    private long _end;

    public SerialMarks(string startPrefix, string endPrefix)
    {
        StartPrefix = startPrefix;
        EndPrefix = endPrefix;
    }

    public string StartPrefix { get; }

    public string EndPrefix { get; }

    /// <summary>The end line as printed (without its line end), or null before it.</summary>
    public string? EndLine { get; private set; }

    /// <summary>Both lines were seen, in order.</summary>
    public bool Complete => _start != 0 && _end != 0;

    /// <summary>The host time from the end of the start line to the end of the end line.</summary>
    public TimeSpan Between => Complete
        ? Stopwatch.GetElapsedTime(_start, _end)
        : throw new InvalidOperationException($"the guest did not print both '{StartPrefix}' and '{EndPrefix}'");

    /// <summary>One byte of the guest's serial output.</summary>
    public void Observe(byte b)
    {
        if (b != (byte)'\n')
        {
            if (b != (byte)'\r')
                _line.Append((char)b);
            return;
        }

        long now = Stopwatch.GetTimestamp();
        string line = _line.ToString();
        _line.Clear();
        if (_start == 0 && line.StartsWith(StartPrefix, StringComparison.Ordinal))
            _start = now;
        else if (_start != 0 && _end == 0 && line.StartsWith(EndPrefix, StringComparison.Ordinal))
        {
            _end = now;
            EndLine = line;
        }
    }
}

namespace MiniHv.Cli.Running;

/// <summary>
/// Where one guest's COM1 output goes: the shared console, byte for byte when the guest runs alone (as
/// QEMU's -serial stdio prints it), or line by line behind "[name] " when several guests share it; and,
/// with --serial-dir, unprefixed into DIR/NAME.log.
/// </summary>
internal sealed class SerialSink : IDisposable
{
    private readonly SharedConsole _console;
    private readonly byte[]? _prefix;
    private readonly FileStream? _log;
    private readonly MemoryStream _line = new();
    private readonly MemoryStream _lastLine = new();
    private volatile string _last = "";

    /// <param name="prefixName">The guest's name when lines get a prefix; null to pass bytes through as they come.</param>
    /// <param name="logPath">The file that receives the guest's bytes, or null.</param>
    public SerialSink(SharedConsole console, string? prefixName, string? logPath)
    {
        _console = console;
        _prefix = prefixName == null ? null : SharedConsole.PrefixFor(prefixName);
        if (logPath != null)
            _log = new FileStream(logPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 14);
    }

    /// <summary>The guest's last complete line of output, for a status display (any thread).</summary>
    public string LastLine => _last;

    /// <summary>One byte from the guest, on the guest's thread.</summary>
    public void Write(byte b)
    {
        _log?.WriteByte(b);
        if (b == '\n')
        {
            _last = System.Text.Encoding.UTF8.GetString(_lastLine.GetBuffer(), 0, (int)_lastLine.Length);
            _lastLine.SetLength(0);
        }
        else if (b != '\r' && _lastLine.Length < 200)
        {
            _lastLine.WriteByte(b);
        }
        if (_prefix == null)
        {
            _console.WriteByte(b);
            return;
        }

        _line.WriteByte(b);
        if (b == '\n')
        {
            _console.WriteLine(_prefix, _line.GetBuffer().AsSpan(0, (int)_line.Length));
            _line.SetLength(0);
        }
    }

    /// <summary>Writes out a last line the guest did not end, with a line end of ours.</summary>
    public void Finish()
    {
        if (_prefix != null && _line.Length > 0)
        {
            _line.WriteByte((byte)'\n');
            _console.WriteLine(_prefix, _line.GetBuffer().AsSpan(0, (int)_line.Length));
            _line.SetLength(0);
        }

        _log?.Flush();
    }

    public void Dispose() => _log?.Dispose();
}

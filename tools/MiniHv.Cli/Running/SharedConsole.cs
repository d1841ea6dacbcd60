using System.Text;

namespace MiniHv.Cli.Running;

/// <summary>The stream every guest's COM1 output shares, written from the guests' threads one whole line (or byte) at a time.</summary>
internal sealed class SharedConsole
{
    private readonly Stream _out;
    private readonly Lock _lock = new();

    public SharedConsole(Stream output)
    {
        _out = output;
    }

    public void WriteByte(byte b)
    {
        lock (_lock)
            _out.WriteByte(b);
    }

    /// <summary>Writes <paramref name="prefix"/> and then the line's bytes, which end in '\n'.</summary>
    public void WriteLine(byte[] prefix, ReadOnlySpan<byte> line)
    {
        lock (_lock)
        {
            _out.Write(prefix);
            _out.Write(line);
        }
    }

    public void Flush()
    {
        lock (_lock)
            _out.Flush();
    }

    public static byte[] PrefixFor(string name) => Encoding.UTF8.GetBytes($"[{name}] ");
}

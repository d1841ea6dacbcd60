using System.Net.Sockets;
using System.Text;

namespace MiniHv.Tests.Cli;

/// <summary>
/// The smallest gdb remote-protocol client, as a course grader writes its own (JOS's gradelib.py): packets out
/// with their checksum, acknowledgements skipped, replies read up to their '#xx'.
/// </summary>
internal sealed class QemuRspClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly StringBuilder _received = new();

    public QemuRspClient(int port)
    {
        _tcp = new TcpClient("127.0.0.1", port);
        _stream = _tcp.GetStream();
        _stream.ReadTimeout = 60_000;
    }

    public void Send(string packet)
    {
        int sum = packet.Aggregate(0, (s, c) => (s + c) & 0xff);
        _stream.Write(Encoding.ASCII.GetBytes($"${packet}#{sum:x2}"));
    }

    /// <summary>The next reply's payload (a broken test, not a slow one, hits the read timeout).</summary>
    public string Reply()
    {
        var buffer = new byte[4096];
        while (true)
        {
            string text = _received.ToString();
            int start = text.IndexOf('$');
            int end = start < 0 ? -1 : text.IndexOf('#', start);
            if (end >= 0 && end + 2 < text.Length)
            {
                _received.Remove(0, end + 3);
                return text[(start + 1)..end];
            }

            int n = _stream.Read(buffer, 0, buffer.Length);
            if (n == 0)
                throw new IOException("the stub closed the connection");
            _received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    public void Dispose() => _tcp.Dispose();
}

using System.Net.Sockets;
using System.Text;
using MiniHv.Hv.Debugging;

namespace MiniHv.Tests.Debugging;

/// <summary>A raw protocol client: sends bytes, reads '+', '-' and packets.</summary>
internal sealed class RspTestClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    public RspTestClient(int port)
    {
        _tcp = new TcpClient("127.0.0.1", port) { NoDelay = true, ReceiveTimeout = 30_000 };
        _stream = _tcp.GetStream();
    }

    public void SendRaw(string bytes) => _stream.Write(Encoding.Latin1.GetBytes(bytes));

    public void Send(string payload) => _stream.Write(RspPacket.Frame(payload));

    public char ReadAck() => (char)_stream.ReadByte();

    /// <summary>The next packet's payload, its acks skipped; its checksum verified.</summary>
    public string ReadPacket()
    {
        int b;
        while ((b = _stream.ReadByte()) != '$')
            Assert.That(b, Is.Not.EqualTo(-1), "the stub hung up");
        var payload = new StringBuilder();
        while ((b = _stream.ReadByte()) != '#')
            payload.Append((char)b);
        string sum = $"{(char)_stream.ReadByte()}{(char)_stream.ReadByte()}";
        Assert.That(sum, Is.EqualTo($"{RspPacket.Checksum(Encoding.Latin1.GetBytes(payload.ToString())):x2}"));
        return payload.ToString();
    }

    /// <summary>Sends a packet, expects its ack, returns the reply.</summary>
    public string Ask(string payload)
    {
        Send(payload);
        Assert.That(ReadAck(), Is.EqualTo('+'));
        return ReadPacket();
    }

    public void Dispose() => _tcp.Dispose();
}

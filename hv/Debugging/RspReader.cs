namespace MiniHv.Hv.Debugging;

/// <summary>What arrived from a gdb client.</summary>
public enum RspEventKind
{
    /// <summary>A packet with a good checksum; <see cref="RspEvent.Payload"/> holds it, escapes still in.</summary>
    Packet,

    /// <summary>A packet whose checksum is wrong: answer '-' so the client sends it again.</summary>
    BadChecksum,

    /// <summary>The client's '+': it received our last packet.</summary>
    Ack,

    /// <summary>The client's '-': send our last packet again.</summary>
    Nack,

    /// <summary>The client's Ctrl-C (byte 0x03 outside a packet): stop the guest.</summary>
    Interrupt,

    /// <summary>A packet longer than the size we announced: drop the client.</summary>
    TooLong,

    /// <summary>The connection ended (at any point, inside a packet too).</summary>
    Closed,
}

public readonly record struct RspEvent(RspEventKind Kind, byte[] Payload)
{
    public static RspEvent Of(RspEventKind kind) => new(kind, []);
}

/// <summary>
/// Cuts a client's byte stream into protocol events. Bytes outside a packet other than '+', '-' and 0x03 are
/// line noise and are skipped; a '$' inside a packet starts the packet over (the client gave up on the old one).
/// </summary>
public sealed class RspReader
{
    private readonly Stream _stream;
    private readonly int _maxPayload;
    private readonly byte[] _buffer = new byte[4096];
    private int _length;
    private int _position;

    public RspReader(Stream stream, int maxPayload)
    {
        _stream = stream;
        _maxPayload = maxPayload;
    }

    /// <summary>Blocks until the next event.</summary>
    public RspEvent Next()
    {
        while (true)
        {
            int b = ReadByte();
            switch (b)
            {
                case < 0:
                    return RspEvent.Of(RspEventKind.Closed);
                case RspPacket.Ack:
                    return RspEvent.Of(RspEventKind.Ack);
                case RspPacket.Nack:
                    return RspEvent.Of(RspEventKind.Nack);
                case RspPacket.Interrupt:
                    return RspEvent.Of(RspEventKind.Interrupt);
                case RspPacket.Start:
                    return ReadPacket();
            }
        }
    }

    private RspEvent ReadPacket()
    {
        var payload = new List<byte>();
        while (true)
        {
            int b = ReadByte();
            if (b < 0)
                return RspEvent.Of(RspEventKind.Closed);
            if (b == RspPacket.Start)
            {
                payload.Clear();
                continue;
            }

            if (b == RspPacket.End)
                break;
            if (payload.Count >= _maxPayload)
                return RspEvent.Of(RspEventKind.TooLong);
            payload.Add((byte)b);
        }

        int first = ReadByte();
        int second = first < 0 ? -1 : ReadByte();
        if (second < 0)
            return RspEvent.Of(RspEventKind.Closed);
        int hi = HexDigit(first), lo = HexDigit(second);
        if (hi < 0 || lo < 0)
            return RspEvent.Of(RspEventKind.BadChecksum);
        byte[] bytes = payload.ToArray();
        return RspPacket.Checksum(bytes) == (hi << 4 | lo)
            ? new RspEvent(RspEventKind.Packet, bytes)
            : RspEvent.Of(RspEventKind.BadChecksum);
    }

    private static int HexDigit(int c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private int ReadByte()
    {
        if (_position == _length)
        {
            try
            {
                _length = _stream.Read(_buffer, 0, _buffer.Length);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                _length = 0;
            }

            _position = 0;
            if (_length <= 0)
            {
                _length = 0;
                return -1;
            }
        }

        return _buffer[_position++];
    }
}

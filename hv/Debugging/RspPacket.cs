using System.Globalization;
using System.Text;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// The framing of the GDB remote serial protocol: <c>$payload#cc</c>, where cc is the payload's byte sum
/// modulo 256 in two hex digits, and where '#', '$', '}' and '*' inside a payload are sent as '}' followed by
/// the byte xor 0x20. Payloads are handled as Latin-1 strings: one char per byte, so binary data survives.
/// </summary>
public static class RspPacket
{
    public const byte Start = (byte)'$', End = (byte)'#', Escape = (byte)'}', Repeat = (byte)'*';
    public const byte Ack = (byte)'+', Nack = (byte)'-', Interrupt = 0x03;

    public static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>The checksum of bytes as they are sent (escapes included).</summary>
    public static byte Checksum(ReadOnlySpan<byte> sent)
    {
        byte sum = 0;
        foreach (byte b in sent)
            sum += b;
        return sum;
    }

    /// <summary>The packet that carries <paramref name="payload"/>, escaped and with its checksum.</summary>
    public static byte[] Frame(string payload)
    {
        var body = new List<byte>(payload.Length + 8);
        foreach (char c in payload)
        {
            byte b = (byte)c;
            if (b is Start or End or Escape or Repeat)
            {
                body.Add(Escape);
                body.Add((byte)(b ^ 0x20));
            }
            else
            {
                body.Add(b);
            }
        }

        byte sum = Checksum(body.ToArray());
        var packet = new byte[body.Count + 4];
        packet[0] = Start;
        body.CopyTo(packet, 1);
        packet[^3] = End;
        packet[^2] = (byte)"0123456789abcdef"[sum >> 4];
        packet[^1] = (byte)"0123456789abcdef"[sum & 15];
        return packet;
    }

    /// <summary>Undoes the escapes of a received payload (in binary data, as an X packet carries it).</summary>
    public static byte[] Unescape(ReadOnlySpan<byte> escaped)
    {
        var result = new List<byte>(escaped.Length);
        for (int i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == Escape && i + 1 < escaped.Length)
                result.Add((byte)(escaped[++i] ^ 0x20));
            else
                result.Add(escaped[i]);
        }

        return result.ToArray();
    }

    /// <summary>Bytes as lowercase hex, two digits each.</summary>
    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    /// <summary>Text as hex of its UTF-8 bytes (an 'O' packet, a qRcmd reply).</summary>
    public static string TextToHex(string text) => ToHex(Encoding.UTF8.GetBytes(text));

    /// <summary>Hex digits back to bytes; false for an odd count or a non-hex digit.</summary>
    public static bool TryFromHex(string hex, out byte[] bytes)
    {
        bytes = [];
        if (hex.Length % 2 != 0)
            return false;
        try
        {
            bytes = Convert.FromHexString(hex);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A hex number as gdb writes addresses and lengths (no prefix, up to 8 digits).</summary>
    public static bool TryParseHex(string text, out uint value)
        => uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && text.Length is > 0 and <= 8;
}

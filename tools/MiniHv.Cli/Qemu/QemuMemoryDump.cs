using System.Globalization;
using System.Text;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// The QEMU monitor's <c>x /NFU ADDR</c> (linear) and <c>xp /NFU ADDR</c> (physical): N units of U bytes (b, h, w,
/// g) shown as F (x hex, d signed, u unsigned decimal), 16 bytes to a line behind the line's address, in
/// QEMU 7.2's layout (<c>f0100000: 0x1badb002 0x00000003</c>; a physical address in 16 digits).
/// </summary>
internal sealed class QemuMemoryDump
{
    private int _count = 1;
    private char _format = 'x';
    private int _size = 4;

    /// <summary>Reads "/NFU" (any part may be left out: QEMU keeps the last format and size) and the address.</summary>
    public bool TryParse(string[] words, Func<string, uint?> register, out uint address, out string error)
    {
        address = 0;
        error = "";
        string spec = words[0].Contains('/') ? words[0][(words[0].IndexOf('/') + 1)..] : "";
        string[] rest = words[1..];
        if (words[0].Contains('/') && spec.Length == 0 && rest.Length > 0 && rest[0].StartsWith('/'))
        {
            spec = rest[0][1..];
            rest = rest[1..];
        }

        int digits = 0;
        while (digits < spec.Length && char.IsAsciiDigit(spec[digits]))
            digits++;
        _count = digits > 0 ? int.Parse(spec[..digits], CultureInfo.InvariantCulture) : 1;
        foreach (char c in spec[digits..])
        {
            switch (c)
            {
                case 'x' or 'd' or 'u':
                    _format = c;
                    break;
                case 'b':
                    _size = 1;
                    break;
                case 'h':
                    _size = 2;
                    break;
                case 'w':
                    _size = 4;
                    break;
                case 'g':
                    _size = 8;
                    break;
                default:
                    error = $"invalid char in format: '{c}' (MiniHv's x and xp show x, d or u in b, h, w or g units)\n";
                    return false;
            }
        }

        if (rest.Length != 1 || !TryAddress(rest[0], register, out address))
        {
            error = "x and xp take /NFU and one address: a number (0x for hex) or $register\n";
            return false;
        }

        if (_count is < 1 or > 65536)
        {
            error = "the count is from 1 to 65536\n";
            return false;
        }

        return true;
    }

    /// <summary>The bytes to read for the parsed request.</summary>
    public int Length => _count * _size;

    /// <summary>The dump of <paramref name="bytes"/> read at <paramref name="address"/>; fewer than asked means the rest cannot be read.</summary>
    public string Format(uint address, byte[] bytes, bool physical)
    {
        var s = new StringBuilder();
        int perLine = 16 / _size;
        for (int i = 0; i < _count; i++)
        {
            if (i % perLine == 0)
            {
                if (i > 0)
                    s.Append('\n');
                ulong at = address + (ulong)(i * _size);
                s.Append(physical ? $"{at:x16}:" : $"{(uint)at:x8}:");
            }

            int offset = i * _size;
            if (offset + _size > bytes.Length)
            {
                s.Append($"\nCannot access memory at {(physical ? "physical" : "linear")} address {address + (ulong)offset:x}");
                break;
            }

            ulong value = 0;
            for (int b = _size - 1; b >= 0; b--)
                value = (value << 8) | bytes[offset + b];
            s.Append(' ');
            s.Append(_format switch
            {
                'x' => "0x" + value.ToString("x" + (_size * 2).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                'd' => SignExtend(value).ToString(CultureInfo.InvariantCulture).PadLeft(DecimalWidth),
                _ => value.ToString(CultureInfo.InvariantCulture).PadLeft(DecimalWidth),
            });
        }

        return s.Append('\n').ToString();
    }

    /// <summary>QEMU's column width for a decimal unit: enough digits for its largest value.</summary>
    private int DecimalWidth => (_size * 8 * 10 + 32) / 33;

    private long SignExtend(ulong value) => _size == 8 ? (long)value : (long)(value << (64 - _size * 8)) >> (64 - _size * 8);

    private static bool TryAddress(string text, Func<string, uint?> register, out uint address)
    {
        address = 0;
        if (text.StartsWith('$'))
        {
            uint? value = register(text[1..].ToLowerInvariant());
            address = value ?? 0;
            return value != null;
        }

        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out address);
        return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out address);
    }
}

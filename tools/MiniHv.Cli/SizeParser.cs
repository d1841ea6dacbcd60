using System.Globalization;

namespace MiniHv.Cli;

/// <summary>Memory sizes as QEMU's -m takes them: "64M", "1G", "512K", "4096B"; a bare number means MiB.</summary>
internal static class SizeParser
{
    /// <summary>Parses <paramref name="text"/>; false with a reason when it is not a size.</summary>
    public static bool TryParse(string text, out long bytes, out string error)
    {
        bytes = 0;
        error = "";
        string t = text.Trim();
        if (t.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
            t = t[..^2];
        if (t.Length == 0)
        {
            error = "a size is a number with an optional unit K, M or G, such as 64M";
            return false;
        }

        int shift = char.ToUpperInvariant(t[^1]) switch
        {
            'B' => 0,
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => -1,
        };
        string digits = shift < 0 ? t : t[..^1];
        if (shift < 0)
            shift = 20;
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n))
        {
            error = "a size is a number with an optional unit K, M or G, such as 64M";
            return false;
        }

        if (n > (ulong.MaxValue >> 1) >> shift)
        {
            error = "that is larger than any machine";
            return false;
        }

        bytes = (long)(n << shift);
        return true;
    }

    /// <summary>"64 MiB", "1536 KiB", "12 bytes": as people write sizes.</summary>
    public static string Format(long bytes)
    {
        if (bytes != 0 && bytes % (1L << 30) == 0)
            return $"{bytes >> 30} GiB";
        if (bytes != 0 && bytes % (1L << 20) == 0)
            return $"{bytes >> 20} MiB";
        if (bytes != 0 && bytes % (1L << 10) == 0)
            return $"{bytes >> 10} KiB";
        return $"{bytes} bytes";
    }
}

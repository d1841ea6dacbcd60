namespace MiniHv.Cli;

/// <summary>The JOS-style guest image built from guests/ and embedded in minihv, so the demo needs no files.</summary>
internal static class EmbeddedGuests
{
    private const string JosResource = "MiniHv.Guests.jos.elf";

    /// <summary>The name the demo gives the embedded image (and the path its multiboot command line starts with).</summary>
    public const string JosName = "jos.elf";

    /// <summary>guests/build/jos.elf as it was when minihv was built.</summary>
    public static byte[] Jos()
    {
        using Stream? s = typeof(EmbeddedGuests).Assembly.GetManifestResourceStream(JosResource)
            ?? throw new InvalidOperationException($"minihv was built without the embedded guest '{JosResource}' (make -C guests failed?)");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }
}

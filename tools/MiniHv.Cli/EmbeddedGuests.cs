namespace MiniHv.Cli;

/// <summary>The JOS-style guest images built from guests/ and embedded in minihv, so the demo and the benchmarks need no files.</summary>
internal static class EmbeddedGuests
{
    private const string JosResource = "MiniHv.Guests.jos.elf";
    private const string JosSmpResource = "MiniHv.Guests.jos-smp.elf";

    /// <summary>The name the demo gives the embedded image (and the path its multiboot command line starts with).</summary>
    public const string JosName = "jos.elf";

    /// <summary>The name the multiprocessor flavour goes by.</summary>
    public const string JosSmpName = "jos-smp.elf";

    /// <summary>guests/build/jos.elf as it was when minihv was built.</summary>
    public static byte[] Jos() => Resource(JosResource);

    /// <summary>guests/build/jos-smp.elf, the multiprocessor flavour, as it was when minihv was built.</summary>
    public static byte[] JosSmp() => Resource(JosSmpResource);

    private static byte[] Resource(string name)
    {
        using Stream? s = typeof(EmbeddedGuests).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"minihv was built without the embedded guest '{name}' (make -C guests failed?)");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }
}

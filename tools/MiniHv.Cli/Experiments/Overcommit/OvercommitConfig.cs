using System.Globalization;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Experiments.Overcommit;

/// <summary>One point of the overcommit sweep: the machine's size as a ratio of the guests' RAM, sharing, and balloons.</summary>
internal sealed record OvercommitPoint(double Ratio, SharingPolicy Sharing, bool Balloon)
{
    /// <summary>r2-all-balloon: the point's id, its parameters spelled out.</summary>
    public string Id => $"r{Ratio.ToString("0.##", CultureInfo.InvariantCulture)}-{Sharing.ToString().ToLowerInvariant()}-{(Balloon ? "balloon" : "noballoon")}";

    public string Parameters => string.Create(CultureInfo.InvariantCulture,
        $"ratio={Ratio:0.##} sharing={Sharing.ToString().ToLowerInvariant()} balloon={(Balloon ? "on" : "off")}");
}

/// <summary>
/// The overcommit sweep: a number of JOS-style guests with a workload, on machines from their RAM together down to a
/// quarter of it, with sharing off and across guests, balloons off and on. Written as a few key=value lines (the
/// manifest keeps them, so a merge builds the same sweep again).
/// </summary>
internal sealed record OvercommitConfig(int Guests, long MemoryBytes, string Append, IReadOnlyList<double> Ratios, string Source)
{
    /// <summary>Each guest writes 8 MiB with lazyalloc, which it frees when lazyalloc exits, beside dedupwork's working set
    /// (shared, zero and unique pages, rewritten and reread for rounds): memory a balloon can take, and memory only swap can.</summary>
    private const string Workload = "prog=lazyalloc lazyalloc.pages=2048 prog=dedupwork dedup.same=256 dedup.zero=128 dedup.unique=2048 dedup.rounds=4";

    public static readonly string DefaultText = $"guests=8\nmemory=32M\nratios=1,2,3,4\nappend={Workload}\n";

    public static readonly string QuickText = "guests=4\nmemory=16M\nratios=1,2,4\n"
        + "append=prog=lazyalloc lazyalloc.pages=1024 prog=dedupwork dedup.same=128 dedup.zero=64 dedup.unique=512 dedup.rounds=3\n";

    /// <summary>Every point: each ratio with sharing off and all, balloons off and on.</summary>
    public IReadOnlyList<OvercommitPoint> Points => Ratios
        .SelectMany(r => new[] { SharingPolicy.Off, SharingPolicy.All }.SelectMany(s => new[] { false, true }.Select(b => new OvercommitPoint(r, s, b))))
        .ToList();

    /// <summary>The machine's memory at <paramref name="ratio"/>: the guests' RAM together over it, in whole frames.</summary>
    public long MachineBytes(double ratio) => (long)(Guests * MemoryBytes / ratio) & ~0xFFFL;

    /// <exception cref="FormatException">A line that is not key=value, an unknown key, or a bad value; the message names the source.</exception>
    public static OvercommitConfig Parse(string text, string source)
    {
        int guests = 0;
        long memory = 0;
        string? append = null;
        List<double>? ratios = null;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int eq = line.IndexOf('=');
            if (eq <= 0)
                throw new FormatException($"{source}: '{line}' is not key=value");
            string key = line[..eq], value = line[(eq + 1)..];
            switch (key)
            {
                case "guests" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int g) && g is >= 1 and <= 64:
                    guests = g;
                    break;
                case "memory" when SizeParser.TryParse(value, out long bytes, out _) && bytes >= 4L << 20:
                    memory = bytes;
                    break;
                case "append":
                    append = value;
                    break;
                case "ratios":
                    ratios = value.Split(',').Select(r => double.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= 1 && d <= 16
                        ? d : throw new FormatException($"{source}: ratio '{r}': from 1 to 16")).ToList();
                    break;
                default:
                    throw new FormatException($"{source}: '{line}': the keys are guests (1 to 64), memory (4M and up), ratios (1 to 16, by commas) and append");
            }
        }

        if (guests == 0 || memory == 0 || append == null || ratios == null || ratios.Count == 0)
            throw new FormatException($"{source}: guests, memory, ratios and append are all needed");
        return new OvercommitConfig(guests, memory, append, ratios, source);
    }
}

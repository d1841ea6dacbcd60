using System.Globalization;
using MiniHv.Hv.Sharing;
using YamlDotNet.Serialization;

namespace MiniHv.Cli.Experiments;

/// <summary>One run of the shared-object experiment: a number of guests, each running libuser in some environments.</summary>
/// <param name="Sweep">The name of the sweep of the config that first named this point.</param>
/// <param name="Spawn">"load": each environment loaded from the command line (its own load of the library); "fork": one loaded, the rest forked from it.</param>
/// <param name="Variant">"pic" or "nonpic".</param>
/// <param name="Aslr">1: each load of the library at a random address (seeded per guest); 0: all at the same one.</param>
/// <param name="TouchPct">Percent of the library's data pages each environment writes.</param>
internal sealed record SweepPoint(string Sweep, int Guests, int EnvsPerGuest, string Spawn, int LibKib, string Variant, int Aslr,
    SharingPolicy Sharing, int TouchPct);

/// <summary>
/// The shared-object experiment as a file (<c>--config</c>, YAML or JSON): settings for every run, and sweeps,
/// each the cross product of its lists (a single value may stand for a list of one). Keys left out of a sweep
/// take the value given at the top level, else the default. See docs/sharedobj.md for the keys.
/// </summary>
internal sealed class SharedObjectConfig
{
    public static readonly int[] LibraryKibs = [64, 256, 1024, 2048];

    /// <summary>The dimensions a sweep may list, with their defaults.</summary>
    private static readonly Dictionary<string, object[]> DimensionDefaults = new()
    {
        ["guests"] = [1],
        ["envs_per_guest"] = [2],
        ["spawn"] = ["load"],
        ["lib_kib"] = [64],
        ["variant"] = ["pic"],
        ["aslr"] = [0],
        ["sharing"] = ["all"],
        ["touch_pct"] = [25],
    };

    /// <summary>Guest RAM, QEMU's -m spelling.</summary>
    public long MemoryBytes { get; private set; } = 64L << 20;

    /// <summary>Frames the sharing engine scans per second of virtual time.</summary>
    public long ScanRate { get; private set; } = 20_000_000;

    /// <summary>Instructions per guest per round of the deterministic scheduler.</summary>
    public long Quantum { get; private set; } = 100_000;

    /// <summary>jos.idle=N: how long the guests idle at most once every environment is blocked (the run stops once settled).</summary>
    public int IdleTicks { get; private set; } = 100_000;

    /// <summary>Full scans after the guests went idle within which the counts must stop changing.</summary>
    public int MaxScans { get; private set; } = 40;

    /// <summary>The first guest's seed= (guest i gets seed + i unless <see cref="SameSeed"/>).</summary>
    public int Seed { get; private set; } = 1;

    /// <summary>Every guest the same seed= (cloned guests), so their random load addresses are the same too.</summary>
    public bool SameSeed { get; private set; }

    /// <summary>Under the salted policy, guests go round-robin into this many salt groups.</summary>
    public int SaltGroups { get; private set; } = 2;

    /// <summary>Percent of the library's functions each environment calls.</summary>
    public int LibCalls { get; private set; } = 100;

    /// <summary>Where the config came from, for the summary.</summary>
    public string Source { get; private set; } = "built in";

    /// <summary>Every point of every sweep, in order, each once.</summary>
    public List<SweepPoint> Points { get; } = new();

    /// <summary>The full sweep <c>minihv experiment sharedobj</c> runs without --config.</summary>
    public const string DefaultYaml = """
        # minihv experiment sharedobj: the default sweep
        sweeps:
          - name: guests          # memory against the number of guests
            guests: [1, 2, 4, 8, 16]
            envs_per_guest: 4
            lib_kib: 1024
            variant: [pic, nonpic]
            aslr: [0, 1]
            sharing: [off, guest, all, salted]
          - name: envs            # against environments per guest
            guests: 4
            envs_per_guest: [1, 2, 4, 8]
            lib_kib: 1024
            variant: [pic, nonpic]
            aslr: [0, 1]
            sharing: [off, guest, all]
          - name: size            # against the library's size
            guests: 4
            envs_per_guest: 4
            lib_kib: [64, 256, 1024, 2048]
            variant: [pic, nonpic]
            aslr: [0, 1]
            sharing: [off, all]
          - name: spawn           # separately loaded against forked environments
            guests: 4
            envs_per_guest: 4
            spawn: [load, fork]
            lib_kib: 1024
            variant: [pic, nonpic]
            aslr: 1
            sharing: [off, guest, all]
        """;

    /// <summary>--quick: a small sweep that runs in well under a minute.</summary>
    public const string QuickYaml = """
        # minihv experiment sharedobj --quick
        sweeps:
          - name: quick
            guests: [1, 2, 4]
            envs_per_guest: 2
            lib_kib: 64
            variant: [pic, nonpic]
            aslr: [0, 1]
            sharing: [off, guest, all, salted]
        """;

    /// <summary>Reads a config's text (YAML, or JSON, which YAML reads too).</summary>
    /// <exception cref="FormatException">The text is not a valid experiment; the message says where.</exception>
    public static SharedObjectConfig Parse(string text, string source)
    {
        object? root;
        try
        {
            root = new DeserializerBuilder().Build().Deserialize<object?>(text);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }

        if (root is not Dictionary<object, object> top)
            throw new FormatException($"{source}: an experiment is a mapping of keys (settings and 'sweeps')");
        var config = new SharedObjectConfig { Source = source };
        var topDims = new Dictionary<string, object>();
        List<object>? sweeps = null;
        foreach (var (k, v) in top)
        {
            string key = k.ToString()!;
            switch (key)
            {
                case "memory":
                    config.MemoryBytes = ParseMemory(source, key, v);
                    break;
                case "scan_rate": config.ScanRate = ParseLong(source, key, v, 1, long.MaxValue); break;
                case "quantum": config.Quantum = ParseLong(source, key, v, 1000, 100_000_000); break;
                case "idle_ticks": config.IdleTicks = (int)ParseLong(source, key, v, 1, int.MaxValue); break;
                case "max_scans": config.MaxScans = (int)ParseLong(source, key, v, 3, 10_000); break;
                case "seed": config.Seed = (int)ParseLong(source, key, v, 0, int.MaxValue); break;
                case "same_seed": config.SameSeed = ParseBool(source, key, v); break;
                case "salt_groups": config.SaltGroups = (int)ParseLong(source, key, v, 1, 64); break;
                case "lib_calls": config.LibCalls = (int)ParseLong(source, key, v, 0, 100); break;
                case "sweeps":
                    sweeps = v as List<object> ?? throw new FormatException($"{source}: 'sweeps' is a list of sweeps");
                    break;
                default:
                    if (!DimensionDefaults.ContainsKey(key))
                        throw new FormatException($"{source}: unknown key '{key}'");
                    topDims[key] = v;
                    break;
            }
        }

        if (sweeps == null || sweeps.Count == 0)
            throw new FormatException($"{source}: no sweeps: give 'sweeps' a list of at least one");
        var seen = new HashSet<SweepPoint>(new PointKey());
        for (int s = 0; s < sweeps.Count; s++)
        {
            if (sweeps[s] is not Dictionary<object, object> sweep)
                throw new FormatException($"{source}: sweeps[{s}] is a mapping of keys");
            string name = sweep.TryGetValue("name", out object? n) ? n.ToString()! : $"sweep{s + 1}";
            string where = $"{source}: sweeps[{s}] ({name})";
            foreach (object k in sweep.Keys)
            {
                if (k.ToString() != "name" && !DimensionDefaults.ContainsKey(k.ToString()!))
                    throw new FormatException($"{where}: unknown key '{k}'");
            }

            object Dim(string key) => sweep.TryGetValue(key, out object? v) ? v : topDims.TryGetValue(key, out object? t) ? t : DimensionDefaults[key];
            var guests = Ints(where, "guests", Dim("guests"), 1, 64);
            var envs = Ints(where, "envs_per_guest", Dim("envs_per_guest"), 1, 64);
            var spawns = Words(where, "spawn", Dim("spawn"), "load", "fork");
            var kibs = Ints(where, "lib_kib", Dim("lib_kib"), 1, int.MaxValue);
            foreach (int kib in kibs.Where(k => !LibraryKibs.Contains(k)))
                throw new FormatException($"{where}: lib_kib {kib}: the guests are built with {string.Join(", ", LibraryKibs)} KiB libraries");
            var variants = Words(where, "variant", Dim("variant"), "pic", "nonpic");
            var aslrs = Ints(where, "aslr", Dim("aslr"), 0, 1);
            var sharings = Words(where, "sharing", Dim("sharing"), "off", "guest", "all", "salted")
                .Select(w => Enum.Parse<SharingPolicy>(w, ignoreCase: true)).ToList();
            var touches = Ints(where, "touch_pct", Dim("touch_pct"), 0, 100);
            foreach (int g in guests)
            foreach (int e in envs)
            foreach (string sp in spawns)
            foreach (int kib in kibs)
            foreach (string v in variants)
            foreach (int a in aslrs)
            foreach (SharingPolicy sh in sharings)
            foreach (int t in touches)
            {
                var point = new SweepPoint(name, g, e, sp, kib, v, a, sh, t);
                if (seen.Add(point))
                    config.Points.Add(point);
            }
        }

        return config;
    }

    /// <summary>Two points are the same run whatever sweep named them.</summary>
    private sealed class PointKey : IEqualityComparer<SweepPoint>
    {
        public bool Equals(SweepPoint? x, SweepPoint? y) => x! with { Sweep = "" } == y! with { Sweep = "" };

        public int GetHashCode(SweepPoint p) => (p with { Sweep = "" }).GetHashCode();
    }

    private static List<object> AsList(object value) => value is List<object> l ? l : value is object[] a ? [.. a] : [value];

    private static List<int> Ints(string where, string key, object value, int min, int max)
        => AsList(value).Select(v => (int)ParseLong(where, key, v, min, max)).Distinct().ToList();

    private static List<string> Words(string where, string key, object value, params string[] allowed)
    {
        var words = AsList(value).Select(v => v.ToString()!.ToLowerInvariant()).Distinct().ToList();
        foreach (string w in words.Where(w => !allowed.Contains(w)))
            throw new FormatException($"{where}: {key} '{w}': one of {string.Join(", ", allowed)}");
        return words;
    }

    private static long ParseLong(string where, string key, object value, long min, long max)
    {
        string text = value.ToString()!.Replace("_", "", StringComparison.Ordinal);
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || n < min || n > max)
            throw new FormatException($"{where}: {key} '{value}': a whole number from {min} to {max}");
        return n;
    }

    private static bool ParseBool(string where, string key, object value) => value.ToString()!.ToLowerInvariant() switch
    {
        "true" or "yes" or "1" => true,
        "false" or "no" or "0" => false,
        _ => throw new FormatException($"{where}: {key} '{value}': true or false"),
    };

    private static long ParseMemory(string where, string key, object value)
    {
        if (!Commands.CommonOptions.TryParseGuestMemory(value.ToString()!, out long bytes, out string error))
            throw new FormatException($"{where}: {key}: {error.Replace("--memory", "memory", StringComparison.Ordinal)}");
        return bytes;
    }
}

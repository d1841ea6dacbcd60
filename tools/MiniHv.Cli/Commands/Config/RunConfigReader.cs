using System.Globalization;
using System.Text;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using K = MiniHv.Cli.Commands.Config.RunConfigKeys;

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// Reads a config file (<c>minihv run --config FILE</c>): YAML or JSON by the file's extension, else by its first
/// character, then every key checked against the schema of <see cref="RunConfigKeys"/>. Each refusal is a
/// <see cref="RunConfigException"/> that names the file, line and column of the key at fault.
/// </summary>
internal static class RunConfigReader
{
    /// <exception cref="RunConfigException">The file is missing, unreadable, not YAML or JSON, or breaks the schema.</exception>
    public static RunConfig Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunConfigException($"cannot read config file '{path}': {e.Message}", e);
        }

        ConfigNode root = IsJson(path, bytes)
            ? JsonConfigParser.Parse(bytes, path)
            : YamlConfigParser.Parse(new UTF8Encoding(false).GetString(bytes).TrimStart('\uFEFF'), path);
        return new Schema(path, ConfigPaths.DirectoryOf(path)).Read(root);
    }

    /// <summary>.json is JSON and .yaml/.yml YAML; any other name is JSON if it starts (after blanks) with '{' or '['.</summary>
    public static bool IsJson(string path, ReadOnlySpan<byte> bytes)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".json")
            return true;
        if (extension is ".yaml" or ".yml")
            return false;
        if (bytes.StartsWith("\uFEFF"u8))
            bytes = bytes[3..];
        int first = bytes.IndexOfAnyExcept(" \t\r\n"u8);
        return first >= 0 && bytes[first] is (byte)'{' or (byte)'[';
    }

    /// <summary>One file's checks: every message starts with FILE:LINE:COLUMN of the key it is about.</summary>
    private sealed class Schema(string file, string directory)
    {
        private readonly Dictionary<string, string> _origins = new();

        public RunConfig Read(ConfigNode root)
        {
            if (root is ConfigScalar { Kind: ScalarKind.Null })
                return new RunConfig();
            if (root is not ConfigMapping mapping)
                throw Error(root.At, "a config file is a mapping of settings (sharing: all, guests: [...], ...)");

            var config = new RunConfig();
            foreach (ConfigEntry e in mapping.Entries)
            {
                if (Array.IndexOf(K.Settings, e.Key) < 0)
                    throw Error(e.KeyAt, $"unknown key '{e.Key}' (the keys are {string.Join(", ", K.Settings)})");
                _origins[e.Key] = $"{file}:{e.KeyAt}";
                config = e.Key switch
                {
                    K.Guests => config with { Guests = Guests(e) },
                    K.Memory => config with { MemoryBytes = GuestMemory(e) },
                    K.MemoryCap => config with { MemoryCapBytes = Cap(e) },
                    K.MachineMemory => config with { MachineMemoryBytes = MachineMemorySize(e) },
                    K.Swap => config with { SwapPath = PathValue(e) },
                    K.SwapSize => config with { SwapSizeBytes = Cap(e) },
                    K.KeepSwap => config with { KeepSwap = Flag(e) },
                    K.Balloon => config with { Balloon = OneOf(e, K.BalloonModes) is string b ? b == "on" : null },
                    K.Sharing => config with { Sharing = OneOf(e, K.SharingPolicies) is string s ? Enum.Parse<SharingPolicy>(s, ignoreCase: true) : null },
                    K.ScanRate when e.Value is ConfigScalar { Kind: ScalarKind.String, Text: "auto" } => config with { ScanAuto = true },
                    K.ScanRate => config with { ScanRate = Whole(e, 1, long.MaxValue, "a positive number of frames per second, or auto") },
                    K.ScanThreads => config with { ScanThreads = (int?)Whole(e, 1, 64, "from 1 to 64") },
                    K.ScanFullEvery => config with { ScanFullEvery = Whole(e, 1, long.MaxValue, "a positive count") },
                    K.Deterministic => config with { Deterministic = Flag(e) },
                    K.Threads => config with { Threads = (int?)Whole(e, 1, 1024, "from 1 to 1024") },
                    K.Quantum => config with { Quantum = Whole(e, 1, long.MaxValue, "a positive count") },
                    K.Paging => config with { Paging = OneOf(e, K.PagingModes) is string p ? Enum.Parse<PagingMode>(p, ignoreCase: true) : null },
                    K.Cpu => config with { Tier = OneOf(e, K.CpuTiers) is string t ? Enum.Parse<MiniHv.Cpu.CpuTier>(t, ignoreCase: true) : null },
                    K.Timeout => config with { TimeoutSeconds = Seconds(e) },
                    K.MaxInstructions => config with { MaxInstructions = Whole(e, 1, long.MaxValue, "a positive count") },
                    K.SerialDir => config with { SerialDir = PathValue(e) },
                    K.Stats => config with { StatsPath = PathValue(e) },
                    K.FaultLog => config with { FaultLogPath = PathValue(e) },
                    K.Faults => config with { Faults = Flag(e) },
                    K.LogHidden => config with { LogHidden = Sampling(e) },
                    K.DumpPt => config with { DumpPageTables = Flag(e) },
                    K.Snapshot => config with { Snapshot = Flag(e) },
                    K.CpuFeatures => config with { CpuFeatures = OneOf(e, K.CpuFeatureSets) },
                    K.Smp => config with { Processors = Processors(e) },
                    _ => config,
                };
            }

            return config with { Origins = _origins };
        }

        private List<GuestEntry> Guests(ConfigEntry e)
        {
            if (e.Value is ConfigScalar { Kind: ScalarKind.Null })
                return [];
            if (e.Value is not ConfigSequence list)
                throw Error(e.KeyAt, "guests: expects a list of guests, each with at least an image");
            return list.Items.Select(Guest).ToList();
        }

        private GuestEntry Guest(ConfigNode node)
        {
            if (node is not ConfigMapping mapping)
                throw Error(node.At, $"a guest is a mapping of {string.Join(", ", K.Guest)} (at least image)");

            string? image = null, origin = null;
            var fields = new List<ConfigEntry>();
            foreach (ConfigEntry e in mapping.Entries)
            {
                if (Array.IndexOf(K.Guest, e.Key) < 0)
                    throw Error(e.KeyAt, $"unknown guest key '{e.Key}' (a guest's keys are {string.Join(", ", K.Guest)})");
                if (e.Key == K.GuestImage)
                {
                    image = Text(e);
                    origin = $"{file}:{e.KeyAt}";
                }
                else
                {
                    fields.Add(e);
                }
            }

            bool bootsFromDisk = mapping.Entries.Any(e => e.Key == K.GuestHda);
            if (image is "" || (image == null && !bootsFromDisk))
                throw Error(mapping.At, "a guest needs an image (image: path/to/kernel.elf), or an hda to boot from");
            var guest = new GuestEntry(image == null ? null : ConfigPaths.FromFile(directory, image), Origin: origin);
            foreach (ConfigEntry e in fields)
            {
                guest = e.Key switch
                {
                    K.GuestAppend => guest with { Append = Text(e) },
                    K.GuestInitrd => guest with { Initrd = PathValue(e) },
                    K.GuestSystemMap => guest with { SystemMap = PathValue(e) },
                    K.GuestMemory => guest with { MemoryBytes = GuestMemory(e) },
                    K.GuestName => guest with { Name = Name(e) },
                    K.GuestSalt => guest with { Salt = Text(e) },
                    K.GuestShares => guest with { Shares = Whole(e, 1, 1_000_000, "from 1 to 1000000") },
                    K.GuestCap => guest with { CapBytes = Cap(e) },
                    K.GuestCount => guest with { Count = (int?)Whole(e, 1, GuestEntry.MaxCount, $"from 1 to {GuestEntry.MaxCount}") ?? 1 },
                    K.GuestHda => guest with { Hda = PathValue(e), Origin = guest.Origin ?? $"{file}:{e.KeyAt}" },
                    K.GuestHdb => guest with { Hdb = PathValue(e) },
                    K.GuestSnapshot => guest with { Snapshot = Flag(e) },
                    K.GuestSmp => guest with { Processors = Processors(e) },
                    _ => guest,
                };
            }

            return guest;
        }

        /// <summary>A string (a number is taken as written, so salt: 1 is "1"); null when the value is null.</summary>
        private string? Text(ConfigEntry e) => e.Value switch
        {
            ConfigScalar { Kind: ScalarKind.Null } => null,
            ConfigScalar { Kind: ScalarKind.String or ScalarKind.Number } s => s.Text,
            _ => throw Error(e.KeyAt, $"{e.Key}: expects a string{QuoteHint(e.Value)}"),
        };

        /// <summary>A processor count: a number, or QEMU's -smp text ("4,sockets=1,cores=4"); null when the value is null.</summary>
        private int? Processors(ConfigEntry e)
        {
            if (Text(e) is not string text)
                return null;
            if (!SmpSpec.TryParse(text, out int n, out string why))
                throw Error(e.KeyAt, $"{e.Key}: {why}");
            return n;
        }

        private string? PathValue(ConfigEntry e) => Text(e) is string path ? ConfigPaths.FromFile(directory, path) : null;

        private string? Name(ConfigEntry e)
        {
            string? name = Text(e);
            if (name != null && !GuestSpec.IsValidName(name))
                throw Error(e.KeyAt, $"name '{name}': a name is letters, digits, '-', '_' and '.'");
            return name;
        }

        private bool? Flag(ConfigEntry e) => e.Value switch
        {
            ConfigScalar { Kind: ScalarKind.Null } => null,
            ConfigScalar { Kind: ScalarKind.Boolean } s => s.Text.Equals("true", StringComparison.OrdinalIgnoreCase),
            _ => throw Error(e.KeyAt, $"{e.Key}: expects true or false"),
        };

        private long? Whole(ConfigEntry e, long min, long max, string range)
        {
            if (e.Value is ConfigScalar { Kind: ScalarKind.Null })
                return null;
            if (e.Value is not ConfigScalar { Kind: ScalarKind.Number } s
                || !long.TryParse(s.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
                throw Error(e.KeyAt, $"{e.Key}: expects a whole number, {range}");
            if (n < min || n > max)
                throw Error(e.KeyAt, $"{e.Key} {s.Text}: must be {range}");
            return n;
        }

        private double? Seconds(ConfigEntry e)
        {
            if (e.Value is ConfigScalar { Kind: ScalarKind.Null })
                return null;
            if (e.Value is ConfigScalar { Kind: ScalarKind.Number } s
                && double.TryParse(s.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
                && seconds > 0 && double.IsFinite(seconds))
                return seconds;
            throw Error(e.KeyAt, $"{e.Key}: expects a positive number of seconds");
        }

        /// <summary>A size as -m takes it: "64M", "1G"; a bare number is MiB.</summary>
        private string? SizeText(ConfigEntry e) => e.Value switch
        {
            ConfigScalar { Kind: ScalarKind.Null } => null,
            ConfigScalar { Kind: ScalarKind.String or ScalarKind.Number } s => s.Text,
            _ => throw Error(e.KeyAt, $"{e.Key}: expects a size such as 64M"),
        };

        private long? GuestMemory(ConfigEntry e)
        {
            if (SizeText(e) is not string text)
                return null;
            return CommonOptions.TryParseGuestMemory(text, out long bytes, out string error, e.Key)
                ? bytes
                : throw Error(e.KeyAt, error);
        }

        private long? Cap(ConfigEntry e)
        {
            if (SizeText(e) is not string text)
                return null;
            if (SizeParser.TryParse(text, out long bytes, out string error) && bytes >= 4096)
                return bytes;
            throw Error(e.KeyAt, $"{e.Key} '{text}': {(error.Length > 0 ? error : "at least one 4 KiB frame")}");
        }

        private long? MachineMemorySize(ConfigEntry e)
        {
            if (SizeText(e) is not string text)
                return null;
            return CommonOptions.TryParseMachineMemory(text, out long bytes, out string error, e.Key)
                ? bytes
                : throw Error(e.KeyAt, error);
        }

        private string? OneOf(ConfigEntry e, string[] names)
        {
            string? text = Text(e);
            if (text == null || Array.IndexOf(names, text.ToLowerInvariant()) >= 0)
                return text;
            throw Error(e.KeyAt, $"{e.Key} '{text}': one of {string.Join(", ", names)}");
        }

        private FaultSampling? Sampling(ConfigEntry e)
        {
            string? text = Text(e);
            if (text == null)
                return null;
            return FaultSampling.TryParse(text, out FaultSampling sampling)
                ? sampling
                : throw Error(e.KeyAt, $"{e.Key} '{text}': none, all, every:N or N/s");
        }

        /// <summary>YAML reads plain true and 12 as what they look like; quoting makes them strings.</summary>
        private static string QuoteHint(ConfigNode value)
            => value is ConfigScalar { Kind: ScalarKind.Boolean } s ? $" (write \"{s.Text}\" in quotes for the word)" : "";

        private RunConfigException Error(ConfigPosition at, string message) => RunConfigException.At(file, at, message);
    }
}

using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using K = MiniHv.Cli.Commands.Config.RunConfigKeys;

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// Writes a run's configuration as a config file (<c>minihv run ... --save-config FILE</c>) that
/// <see cref="RunConfigReader"/> reads back to the same run. Settings with a fixed default are written with
/// it, so the file still means the same run if a default changes; settings whose default is "none" or depends
/// on the machine (threads, quantum, limits, output files) are written only when given.
/// </summary>
internal static class RunConfigWriter
{
    /// <summary>One line of the YAML form, above the settings.</summary>
    public const string Header = "minihv run --config FILE: one experiment, written by minihv run --save-config";

    /// <summary>Writes <paramref name="config"/> to <paramref name="target"/> (JSON for .json, else YAML), or as YAML to <paramref name="stdout"/> for "-".</summary>
    /// <exception cref="RunConfigException">The file cannot be written.</exception>
    public static void Save(RunConfig config, string target, TextWriter stdout)
    {
        string directory = ConfigPaths.DirectoryOf(target);
        bool json = target != "-" && Path.GetExtension(target).Equals(".json", StringComparison.OrdinalIgnoreCase);
        string text = json ? ToJson(config, directory) : ToYaml(config, directory);
        if (target == "-")
        {
            stdout.Write(text);
            stdout.Flush();
            return;
        }

        try
        {
            File.WriteAllText(target, text, new UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunConfigException($"cannot write config file '{target}': {e.Message}", e);
        }
    }

    public static string ToYaml(RunConfig config, string directory)
    {
        var text = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(text);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        emitter.Emit(new Comment(Header, false));
        EmitYaml(emitter, Settings(config, directory));
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    public static string ToJson(RunConfig config, string directory)
    {
        var bytes = new MemoryStream();
        using (var writer = new Utf8JsonWriter(bytes, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            WriteJson(writer, Settings(config, directory));
        bytes.WriteByte((byte)'\n');
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The settings in writing order; a value is a string, long, double, bool or a list of guests' settings.</summary>
    private static List<(string Key, object Value)> Settings(RunConfig c, string directory)
    {
        var s = new List<(string, object)> { (K.Memory, Size(c.MemoryBytes ?? VmConfig.DefaultMemoryBytes)) };
        if (c.MemoryCapBytes is long cap)
            s.Add((K.MemoryCap, Size(cap)));
        if (c.MachineMemoryBytes is long machine)
            s.Add((K.MachineMemory, Size(machine)));
        if (c.SwapPath is string swap)
            s.Add((K.Swap, ConfigPaths.ToFile(directory, swap)));
        if (c.SwapSizeBytes is long swapSize)
            s.Add((K.SwapSize, Size(swapSize)));
        if (c.KeepSwap is bool keep)
            s.Add((K.KeepSwap, keep));
        if (c.Balloon is bool balloon)
            s.Add((K.Balloon, balloon ? "on" : "off"));
        s.Add((K.Sharing, (c.Sharing ?? SharingPolicy.Off).ToString().ToLowerInvariant()));
        s.Add((K.ScanRate, c.ScanAuto == true ? "auto" : c.ScanRate ?? Running.RunPlan.DefaultScanRate));
        if (c.ScanThreads is int scanThreads)
            s.Add((K.ScanThreads, (long)scanThreads));
        if (c.ScanFullEvery is long every)
            s.Add((K.ScanFullEvery, every));
        s.Add((K.Deterministic, c.Deterministic ?? false));
        if (c.Threads is int threads)
            s.Add((K.Threads, (long)threads));
        if (c.Quantum is long quantum)
            s.Add((K.Quantum, quantum));
        s.Add((K.Paging, (c.Paging ?? PagingMode.Shadow).ToString().ToLowerInvariant()));
        s.Add((K.Cpu, (c.Tier ?? VmConfig.DefaultTier).ToString().ToLowerInvariant()));
        if (c.TimeoutSeconds is double timeout)
            s.Add((K.Timeout, timeout));
        if (c.MaxInstructions is long max)
            s.Add((K.MaxInstructions, max));
        if (c.SerialDir is string serialDir)
            s.Add((K.SerialDir, ConfigPaths.ToFile(directory, serialDir)));
        if (c.StatsPath is string stats)
            s.Add((K.Stats, ConfigPaths.ToFile(directory, stats)));
        if (c.FaultLogPath is string faultLog)
            s.Add((K.FaultLog, ConfigPaths.ToFile(directory, faultLog)));
        s.Add((K.Faults, c.Faults ?? false));
        s.Add((K.LogHidden, (c.LogHidden ?? FaultSampling.None).ToString()));
        s.Add((K.DumpPt, c.DumpPageTables ?? false));
        if (c.Snapshot is bool snapshot)
            s.Add((K.Snapshot, snapshot));
        if (c.CpuFeatures is string features)
            s.Add((K.CpuFeatures, features));
        if (c.Processors is int processors)
            s.Add((K.Smp, (long)processors));
        s.Add((K.Guests, c.Guests.Select(g => Guest(g, directory)).ToList()));
        return s;
    }

    private static List<(string Key, object Value)> Guest(GuestEntry g, string directory)
    {
        var s = new List<(string, object)>();
        if (g.Image is string image)
            s.Add((K.GuestImage, ConfigPaths.ToFile(directory, image)));
        if (g.Append is { Length: > 0 } append)
            s.Add((K.GuestAppend, append));
        if (g.Initrd is string initrd)
            s.Add((K.GuestInitrd, ConfigPaths.ToFile(directory, initrd)));
        if (g.SystemMap is string systemMap)
            s.Add((K.GuestSystemMap, ConfigPaths.ToFile(directory, systemMap)));
        if (g.MemoryBytes is long memory)
            s.Add((K.GuestMemory, Size(memory)));
        if (g.Processors is int processors)
            s.Add((K.GuestSmp, (long)processors));
        if (g.Name is string name)
            s.Add((K.GuestName, name));
        if (g.Salt is string salt)
            s.Add((K.GuestSalt, salt));
        if (g.Shares is long shares)
            s.Add((K.GuestShares, shares));
        if (g.CapBytes is long cap)
            s.Add((K.GuestCap, Size(cap)));
        if (g.Count != 1)
            s.Add((K.GuestCount, (long)g.Count));
        if (g.Hda is string hda)
            s.Add((K.GuestHda, ConfigPaths.ToFile(directory, hda)));
        if (g.Hdb is string hdb)
            s.Add((K.GuestHdb, ConfigPaths.ToFile(directory, hdb)));
        if (g.Snapshot is bool snapshot)
            s.Add((K.GuestSnapshot, snapshot));
        return s;
    }

    /// <summary>The largest unit that is exact: "64M", "1G", "1536K", "4097B", which <see cref="SizeParser"/> reads back.</summary>
    private static string Size(long bytes)
    {
        foreach ((int shift, char unit) in new[] { (30, 'G'), (20, 'M'), (10, 'K') })
        {
            if (bytes != 0 && bytes % (1L << shift) == 0)
                return $"{bytes >> shift}{unit}";
        }

        return $"{bytes}B";
    }

    private static void EmitYaml(Emitter emitter, List<(string Key, object Value)> mapping)
    {
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
        foreach ((string key, object value) in mapping)
        {
            emitter.Emit(new Scalar(key));
            switch (value)
            {
                case string text:
                    // A string that plain YAML would read as a number, true or null is quoted.
                    ScalarStyle style = YamlConfigParser.PlainWouldChangeType(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any;
                    emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, style, true, true));
                    break;
                case List<List<(string, object)>> guests:
                    emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, guests.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                    foreach (var guest in guests)
                        EmitYaml(emitter, guest);
                    emitter.Emit(new SequenceEnd());
                    break;
                default:
                    emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, Plain(value), ScalarStyle.Plain, true, false));
                    break;
            }
        }

        emitter.Emit(new MappingEnd());
    }

    private static void WriteJson(Utf8JsonWriter writer, List<(string Key, object Value)> mapping)
    {
        writer.WriteStartObject();
        foreach ((string key, object value) in mapping)
        {
            writer.WritePropertyName(key);
            switch (value)
            {
                case string text:
                    writer.WriteStringValue(text);
                    break;
                case long n:
                    writer.WriteNumberValue(n);
                    break;
                case double d:
                    writer.WriteNumberValue(d);
                    break;
                case bool b:
                    writer.WriteBooleanValue(b);
                    break;
                case List<List<(string, object)>> guests:
                    writer.WriteStartArray();
                    foreach (var guest in guests)
                        WriteJson(writer, guest);
                    writer.WriteEndArray();
                    break;
            }
        }

        writer.WriteEndObject();
    }

    private static string Plain(object value) => value switch
    {
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };
}

using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// The settings of one <c>minihv run</c> as a config file or a command line states them, before defaults: null is
/// "not said". Paths are as they would be typed on the command line (relative to the current directory or
/// absolute); <see cref="RunConfigReader"/> and <see cref="RunConfigWriter"/> convert them from and to paths
/// relative to the file.
/// </summary>
internal sealed record RunConfig
{
    /// <summary>The guests in run order, each entry standing for <see cref="GuestEntry.Count"/> of them.</summary>
    public IReadOnlyList<GuestEntry> Guests { get; init; } = [];

    /// <summary>RAM of every guest that does not give its own (<c>-m</c>).</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>Private machine memory cap of every guest that does not give its own (<c>--memory-cap</c>).</summary>
    public long? MemoryCapBytes { get; init; }

    /// <summary>The machine's frame pool (<c>--machine-memory</c>); null for the sum of the guests' RAM.</summary>
    public long? MachineMemoryBytes { get; init; }

    /// <summary>The swap file (<c>--swap</c>); null for a temporary file.</summary>
    public string? SwapPath { get; init; }

    /// <summary>The most the swap file holds (<c>--swap-size</c>); null for the sum of the guests' RAM.</summary>
    public long? SwapSizeBytes { get; init; }

    /// <summary>Leave the swap file in place at exit (<c>--keep-swap</c>).</summary>
    public bool? KeepSwap { get; init; }

    /// <summary>Balloon devices and drivers before swap (<c>--balloon on|off</c>); null for on with --machine-memory.</summary>
    public bool? Balloon { get; init; }

    public SharingPolicy? Sharing { get; init; }

    public long? ScanRate { get; init; }

    /// <summary><c>--scan-rate auto</c> (the rate then starts from <see cref="ScanRate"/> or the default).</summary>
    public bool? ScanAuto { get; init; }

    public int? ScanThreads { get; init; }

    public long? ScanFullEvery { get; init; }

    public bool? Deterministic { get; init; }

    public int? Threads { get; init; }

    public long? Quantum { get; init; }

    public PagingMode? Paging { get; init; }

    public MiniHv.Cpu.CpuTier? Tier { get; init; }

    public double? TimeoutSeconds { get; init; }

    public long? MaxInstructions { get; init; }

    public string? SerialDir { get; init; }

    public string? StatsPath { get; init; }

    public string? FaultLogPath { get; init; }

    /// <summary>A line on stderr for every fault (<c>--faults</c>).</summary>
    public bool? Faults { get; init; }

    public FaultSampling? LogHidden { get; init; }

    public bool? DumpPageTables { get; init; }

    /// <summary>Every guest's disk writes stay in memory unless the guest says otherwise (<c>--snapshot</c>, QEMU's -snapshot).</summary>
    public bool? Snapshot { get; init; }

    /// <summary>"fpu" (the default) or "no-fpu": CPUID without the x87 FPU, whose instructions then raise #UD (#NM with CR0.EM).</summary>
    public string? CpuFeatures { get; init; }

    /// <summary>Processors of every guest that does not say (<c>-smp N</c>), or null for one.</summary>
    public int? Processors { get; init; }

    /// <summary>"FILE:LINE:COLUMN" of each setting a config file gave (by its key), for messages about them.</summary>
    public IReadOnlyDictionary<string, string> Origins { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// This file's settings with the command line's on top: every setting <paramref name="commandLine"/> states
    /// replaces this one's, and its guests come after this one's.
    /// </summary>
    public RunConfig OverriddenBy(RunConfig commandLine) => new()
    {
        Guests = [.. Guests, .. commandLine.Guests],
        MemoryBytes = commandLine.MemoryBytes ?? MemoryBytes,
        MemoryCapBytes = commandLine.MemoryCapBytes ?? MemoryCapBytes,
        MachineMemoryBytes = commandLine.MachineMemoryBytes ?? MachineMemoryBytes,
        SwapPath = commandLine.SwapPath ?? SwapPath,
        SwapSizeBytes = commandLine.SwapSizeBytes ?? SwapSizeBytes,
        KeepSwap = commandLine.KeepSwap ?? KeepSwap,
        Balloon = commandLine.Balloon ?? Balloon,
        Sharing = commandLine.Sharing ?? Sharing,
        ScanRate = commandLine.ScanRate ?? (commandLine.ScanAuto == true ? null : ScanRate),
        ScanAuto = commandLine.ScanAuto ?? ScanAuto,
        ScanThreads = commandLine.ScanThreads ?? ScanThreads,
        ScanFullEvery = commandLine.ScanFullEvery ?? ScanFullEvery,
        Deterministic = commandLine.Deterministic ?? Deterministic,
        Threads = commandLine.Threads ?? Threads,
        Quantum = commandLine.Quantum ?? Quantum,
        Paging = commandLine.Paging ?? Paging,
        Tier = commandLine.Tier ?? Tier,
        TimeoutSeconds = commandLine.TimeoutSeconds ?? TimeoutSeconds,
        MaxInstructions = commandLine.MaxInstructions ?? MaxInstructions,
        SerialDir = commandLine.SerialDir ?? SerialDir,
        StatsPath = commandLine.StatsPath ?? StatsPath,
        FaultLogPath = commandLine.FaultLogPath ?? FaultLogPath,
        Faults = commandLine.Faults ?? Faults,
        LogHidden = commandLine.LogHidden ?? LogHidden,
        DumpPageTables = commandLine.DumpPageTables ?? DumpPageTables,
        Snapshot = commandLine.Snapshot ?? Snapshot,
        CpuFeatures = commandLine.CpuFeatures ?? CpuFeatures,
        Processors = commandLine.Processors ?? Processors,
        Origins = Origins.Where(o => !commandLine.States(o.Key)).ToDictionary(o => o.Key, o => o.Value),
    };

    /// <summary>Whether this config gives the setting a config file writes as <paramref name="key"/>.</summary>
    private bool States(string key) => key switch
    {
        RunConfigKeys.Memory => MemoryBytes != null,
        RunConfigKeys.MemoryCap => MemoryCapBytes != null,
        RunConfigKeys.MachineMemory => MachineMemoryBytes != null,
        RunConfigKeys.Swap => SwapPath != null,
        RunConfigKeys.SwapSize => SwapSizeBytes != null,
        RunConfigKeys.KeepSwap => KeepSwap != null,
        RunConfigKeys.Balloon => Balloon != null,
        RunConfigKeys.Sharing => Sharing != null,
        RunConfigKeys.ScanRate => ScanRate != null || ScanAuto != null,
        RunConfigKeys.ScanThreads => ScanThreads != null,
        RunConfigKeys.ScanFullEvery => ScanFullEvery != null,
        RunConfigKeys.Deterministic => Deterministic != null,
        RunConfigKeys.Threads => Threads != null,
        RunConfigKeys.Quantum => Quantum != null,
        RunConfigKeys.Paging => Paging != null,
        RunConfigKeys.Cpu => Tier != null,
        RunConfigKeys.Timeout => TimeoutSeconds != null,
        RunConfigKeys.MaxInstructions => MaxInstructions != null,
        RunConfigKeys.SerialDir => SerialDir != null,
        RunConfigKeys.Stats => StatsPath != null,
        RunConfigKeys.FaultLog => FaultLogPath != null,
        RunConfigKeys.Faults => Faults != null,
        RunConfigKeys.LogHidden => LogHidden != null,
        RunConfigKeys.DumpPt => DumpPageTables != null,
        RunConfigKeys.Snapshot => Snapshot != null,
        RunConfigKeys.CpuFeatures => CpuFeatures != null,
        RunConfigKeys.Smp => Processors != null,
        _ => false,
    };
}

/// <summary>
/// One entry of a run's guest list: <see cref="Count"/> guests of one image, as a config file's guest, the
/// command line's IMAGE (with --append and --count) or one <c>--guest</c> describes them.
/// </summary>
/// <param name="Name">The guest's name, or with <see cref="Count"/> above 1 the stem of NAME-1 ... NAME-N; null for the image's file name.</param>
/// <param name="MemoryBytes">Its RAM, or null for the run's <see cref="RunConfig.MemoryBytes"/>.</param>
/// <param name="CapBytes">Its private memory cap, or null for the run's <see cref="RunConfig.MemoryCapBytes"/>.</param>
/// <param name="Image">The multiboot kernel, or null to boot from <see cref="Hda"/>'s sector 0 as a BIOS would.</param>
/// <param name="Origin">"FILE:LINE:COLUMN" of its image key when a config file gave it, for messages about the image.</param>
/// <param name="Hda">The IDE primary master's raw image file (QEMU's -hda), or null.</param>
/// <param name="Hdb">The IDE primary slave's raw image file (QEMU's -hdb), or null.</param>
/// <param name="Snapshot">The disks' writes stay in memory and the files are never changed (QEMU's -snapshot); null is not said.</param>
/// <param name="Initrd">The initial ramdisk file a Linux bzImage <see cref="Image"/> is given (QEMU's -initrd), or null.</param>
/// <param name="Processors">Its processors (smp=N), or null for the run's <see cref="RunConfig.Processors"/>.</param>
/// <param name="SystemMap">The System.map of a Linux bzImage <see cref="Image"/>, for saying what its shared frames hold, or null.</param>
/// <param name="Shares">Its memory shares under overcommit (shares=N), or null for 10 per MiB of its RAM.</param>
internal sealed record GuestEntry(
    string? Image,
    string? Append = null,
    long? MemoryBytes = null,
    string? Name = null,
    string? Salt = null,
    long? CapBytes = null,
    int Count = 1,
    string? Origin = null,
    string? Hda = null,
    string? Hdb = null,
    bool? Snapshot = null,
    string? Initrd = null,
    int? Processors = null,
    string? SystemMap = null,
    long? Shares = null)
{
    public const int MaxCount = 1024;

    /// <summary>The file the guest is known by: its kernel, or for a disk boot its boot disk.</summary>
    public string BootFile => Image ?? Hda ?? "";

    /// <summary>The name each of the entry's guests asks for (null: the image's file name), before duplicates are numbered.</summary>
    public IEnumerable<string?> Names()
    {
        if (Count == 1)
        {
            yield return Name;
            yield break;
        }

        string stem = Name ?? Path.GetFileNameWithoutExtension(BootFile);
        for (int i = 1; i <= Count; i++)
            yield return $"{stem}-{i}";
    }
}

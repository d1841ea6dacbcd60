namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// The keys of a config file: each is the <c>minihv run</c> option of the same name in snake_case
/// (<c>scan_rate</c> is <c>--scan-rate</c>), and each guest's are those of <c>--guest</c> and <c>--count</c>.
/// </summary>
internal static class RunConfigKeys
{
    public const string Guests = "guests";
    public const string Memory = "memory";
    public const string MemoryCap = "memory_cap";
    public const string MachineMemory = "machine_memory";
    public const string Swap = "swap";
    public const string SwapSize = "swap_size";
    public const string KeepSwap = "keep_swap";
    public const string Balloon = "balloon";
    public const string Sharing = "sharing";
    public const string ScanRate = "scan_rate";
    public const string ScanThreads = "scan_threads";
    public const string ScanFullEvery = "scan_full_every";
    public const string Deterministic = "deterministic";
    public const string Threads = "threads";
    public const string Quantum = "quantum";
    public const string Paging = "paging";
    public const string Cpu = "cpu";
    public const string Timeout = "timeout";
    public const string MaxInstructions = "max_instructions";
    public const string SerialDir = "serial_dir";
    public const string Stats = "stats";
    public const string FaultLog = "fault_log";
    public const string Faults = "faults";
    public const string LogHidden = "log_hidden";
    public const string DumpPt = "dump_pt";
    public const string Snapshot = "snapshot";
    public const string CpuFeatures = "cpu_features";
    public const string Smp = "smp";

    public const string GuestImage = "image";
    public const string GuestAppend = "append";
    public const string GuestInitrd = "initrd";
    public const string GuestSystemMap = "system_map";
    public const string GuestMemory = "memory";
    public const string GuestName = "name";
    public const string GuestSalt = "salt";
    public const string GuestShares = "shares";
    public const string GuestCap = "cap";
    public const string GuestCount = "count";
    public const string GuestHda = "hda";
    public const string GuestHdb = "hdb";
    public const string GuestSnapshot = "snapshot";
    public const string GuestSmp = "smp";

    /// <summary>Every top-level key, in the order the writer puts them.</summary>
    public static readonly string[] Settings =
    [
        Memory, MemoryCap, MachineMemory, Swap, SwapSize, KeepSwap, Balloon, Sharing, ScanRate, ScanThreads, ScanFullEvery, Deterministic, Threads, Quantum, Paging, Cpu, Timeout,
        MaxInstructions, SerialDir, Stats, FaultLog, Faults, LogHidden, DumpPt, Snapshot, CpuFeatures, Smp, Guests,
    ];

    /// <summary>Every key of a guest, in the order the writer puts them.</summary>
    public static readonly string[] Guest = [GuestImage, GuestAppend, GuestInitrd, GuestSystemMap, GuestMemory, GuestSmp, GuestName, GuestSalt, GuestShares, GuestCap, GuestCount, GuestHda, GuestHdb, GuestSnapshot];

    public static readonly string[] BalloonModes = ["on", "off"];

    public static readonly string[] SharingPolicies = ["off", "guest", "all", "salted"];

    public static readonly string[] PagingModes = ["shadow", "walk"];

    public static readonly string[] CpuTiers = ["interp", "jit"];

    /// <summary>What CPUID reports: the whole Pentium Pro-class set, or the same without the x87 FPU.</summary>
    public static readonly string[] CpuFeatureSets = ["fpu", "no-fpu"];
}

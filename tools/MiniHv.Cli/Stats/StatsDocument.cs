namespace MiniHv.Cli.Stats;

/// <summary>
/// What <c>minihv run --stats FILE</c> writes: one JSON document per run, keys in snake_case. The format
/// name and version let <c>minihv report</c> refuse a file it cannot read.
/// </summary>
internal sealed record StatsDocument(
    string Format,
    int Version,
    string Minihv,
    DateTimeOffset Created,
    RunInfo Run,
    IReadOnlyList<GuestStats> Guests)
{
    public const string FormatName = "minihv-stats";
    public const int CurrentVersion = 1;
}

/// <summary>How the run was set up.</summary>
internal sealed record RunInfo(string Scheduler, int Threads, long Quantum, string Paging, double HostSeconds);

/// <summary>One guest: how it was started, how it ended, what it cost.</summary>
internal sealed record GuestStats(
    int Id,
    string Name,
    string CommandLine,
    long MemoryBytes,
    string ExitReason,
    string ExitMessage,
    int ExitStatus,
    long Instructions,
    double HostSeconds,
    GuestMemoryStats Memory,
    ShadowCounters? Shadow);

/// <summary>The guest's RAM at the end: frames with a machine frame of their own, still on the zero frame, or shared read-only.</summary>
internal sealed record GuestMemoryStats(long GuestFrames, long PrivateFrames, long ZeroFrames, long SharedFrames);

/// <summary>The shadow MMU's counters and the faults around it (null when the guest ran on the plain walk).</summary>
internal sealed record ShadowCounters(
    long Instructions,
    long GuestPageFaults,
    HiddenFaults HiddenFaults,
    long ShadowFills,
    long Cr3Switches,
    long Cr3SwitchHits,
    long Cr3FirstVisits,
    double Cr3HitRate,
    double Cr3RevisitHitRate,
    long ShadowsCreated,
    long ShadowsDropped,
    long Shootdowns,
    long TablesUnshadowed,
    long InvlpgDrops);

/// <summary>Faults the hypervisor resolves without the guest seeing them, by cause.</summary>
internal sealed record HiddenFaults(long PageTableWrite, long ZeroFrameBreak, long CowBreak, long AdUpdate)
{
    public long Total => PageTableWrite + ZeroFrameBreak + CowBreak + AdUpdate;
}

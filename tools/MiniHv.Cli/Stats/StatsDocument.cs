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
    MemoryTotals Memory,
    SharingTotals? Sharing,
    IReadOnlyList<GuestStats> Guests,
    OvercommitTotals? Overcommit = null)
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
    GuestSharingStats? Sharing,
    ShadowCounters? Shadow,
    JitCounters? Jit = null,
    GuestOvercommitStats? Overcommit = null,
    IReadOnlyList<ProcessorCounters>? Processors = null);

/// <summary>
/// One guest under --machine-memory: its frames in swap at the end, its swap-ins (major hidden faults), and its clock's
/// second chances; with ballooning, its balloon's target and size at the end (virtio-balloon's num_pages and actual),
/// the frames it gave back to the machine over the run, and its active fraction as the idle-memory sampler estimated it.
/// </summary>
internal sealed record GuestOvercommitStats(long SwappedFrames, long SwapIns, long SecondChances,
    long? BalloonTarget = null, long? BalloonSize = null, long? BalloonFramesReturned = null, double? ActiveFraction = null,
    long? BalloonTouches = null);

/// <summary>
/// A run with --machine-memory: the machine's size and reserve, the swap counters (ESX's and Linux's names where
/// they exist), and the frames each reclaim source took: sharing (frames saved by merges and zero pages at the
/// end), balloon (machine frames the guests' balloons gave back over the run) and swap (frames the reclaimer took
/// off the machine over the run).
/// </summary>
internal sealed record OvercommitTotals(
    long MachineFrames,
    long GuestFrames,
    double OvercommitRatio,
    long ReserveFrames,
    long SwapCapacityFrames,
    long SwappedOut,
    long SwappedIn,
    long SwapWrites,
    long SwapReads,
    long ZeroReclaimed,
    long ZeroSwapIns,
    long SwapFramesAtEnd,
    long SwapPeakFrames,
    long MajorHiddenFaults,
    double SwapInMeanMicroseconds,
    long ReclaimRuns,
    long ReclaimShortfalls,
    IReadOnlyDictionary<string, long> ReclaimBySource,
    long SharedSwapOuts = 0,
    long ResidentSwapIns = 0,
    bool Balloon = false,
    long BalloonRetargets = 0);

/// <summary>
/// One processor of a multiprocessor guest: what it ran, the virtual time it spent halted, waiting for STARTUP or given
/// away from a pause loop, how often it spun on PAUSE until its turn was given away (or, on threads of its own, its
/// host thread yielded), and how often its thread stopped the others to enter an exclusive section (threads only).
/// On threads, the host seconds its thread spent waiting: for its sections to start, parked for the others' sections,
/// at the round barrier, and asleep while halted (all 0 in turns).
/// </summary>
internal sealed record ProcessorCounters(int Cpu, long Instructions, long IdleInstructions, bool Started, long PauseLoopExits,
    long ExclusiveSections, double SectionWaitSeconds, double ParkedSeconds, double BarrierWaitSeconds, double IdleWaitSeconds);

/// <summary>The block compiler's work for one guest (--cpu jit only).</summary>
internal sealed record JitCounters(
    long BlocksCompiled,
    long BlocksRefused,
    long BlocksEvicted,
    double CompileSeconds,
    double MedianCompileMicroseconds,
    long InstructionsCompiled,
    double CompiledShare,
    long ChainsFollowed,
    double CompileShareOfRun,
    long BlocksReused);

/// <summary>All guests' memory at the end, before they were torn down: what they hold, what the machine holds, and the least it could.</summary>
internal sealed record MemoryTotals(
    long GuestFramesInUse,
    long MachineFramesInUse,
    long DistinctContents,
    long PossibleSaving,
    long AchievedSaving,
    double Efficiency);

/// <summary>
/// The sharing engine's counters (Linux KSM's names where the meaning is the same), what the merged guest
/// frames hold (by_content: kernel_text, kernel_data, kernel_other, initramfs_file, user_text, user_data, stack, page_table,
/// zero; guest frames on a shared frame or on the zero frame, taken at the full scan that saved the most,
/// while the guests' page tables still show their programs), and one sample per full scan while guests ran.
/// </summary>
internal sealed record SharingTotals(
    string Policy,
    long ScanRate,
    long PagesShared,
    long PagesSharing,
    long PagesUnshared,
    long PagesVolatile,
    long FullScans,
    long ZeroPages,
    long GeneralProfit,
    long Merges,
    long ZeroMerges,
    long CowBreaks,
    long ZeroBreaks,
    long BytesSaved,
    long FramesHashed,
    double FramesHashedPerSecond,
    long HashCollisions,
    double ScanSeconds,
    IReadOnlyDictionary<string, long> ByContent,
    IReadOnlyList<SharingSampleStats> Samples,
    int ScanThreads = 0,
    bool ScanAuto = false,
    double ScannerCpuSeconds = 0,
    long MergesAbandoned = 0,
    double SharingStallSeconds = 0,
    double GuestSeconds = 0,
    double GuestTimeLostToSharing = 0);

/// <summary>Memory after one full scan.</summary>
internal sealed record SharingSampleStats(
    long FullScans,
    long Instructions,
    long MachineFramesInUse,
    long GuestFramesInUse,
    long DistinctContents,
    long PagesShared,
    long PagesSharing,
    long ZeroPages,
    long CowBreaks);

/// <summary>One guest's part in the sharing: frames on shared frames or put back on the zero frame by the engine, and its breaks away from them.</summary>
internal sealed record GuestSharingStats(long FramesOnStable, long ZeroPages, long Breaks);

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
    long InvlpgDrops,
    long TlbFills);

/// <summary>Faults the hypervisor resolves without the guest seeing them, by cause.</summary>
internal sealed record HiddenFaults(long PageTableWrite, long ZeroFrameBreak, long CowBreak, long AdUpdate, long SwapIn = 0)
{
    public long Total => PageTableWrite + ZeroFrameBreak + CowBreak + AdUpdate + SwapIn;
}

using MiniHv.Hv.Machine;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>Everything a run needs once the command line is understood: the guests and how to run them.</summary>
/// <param name="Deterministic">All guests on one thread in fixed quanta (replayable), rather than in parallel.</param>
/// <param name="Threads">Host threads for the parallel scheduler.</param>
/// <param name="Quantum">Instructions per turn, or null for the scheduler's default.</param>
/// <param name="SerialDir">A directory for one NAME.log per guest, or null.</param>
/// <param name="StatsPath">Where the run's statistics go as JSON, or null.</param>
/// <param name="Summary">Print a summary of the run on stdout at the end.</param>
/// <param name="Sharing">Which frames the sharing engine may merge; off for none.</param>
/// <param name="ScanRate">Frames the sharing engine scans per second (of virtual time when deterministic, of host time in parallel).</param>
/// <param name="ScanAuto">The scan rate follows the merges found (<c>--scan-rate auto</c>), starting from <paramref name="ScanRate"/>.</param>
/// <param name="ScanThreads">Scanner threads beside the guests in a parallel run (<c>--scan-threads</c>).</param>
/// <param name="ScanFullEvery">Deterministic only: also a full scan (every frame twice) each time this many instructions per guest have run.</param>
/// <param name="Faults">Where fault events go, and which; null for nowhere (they are still counted).</param>
/// <param name="DumpPageTables">Print each guest's page tables, as ranges, when it stops.</param>
/// <param name="Status">How the run shows its progress while it runs.</param>
/// <param name="Gdb">A gdb stub for one guest, or null.</param>
/// <param name="Monitor">Monitor commands to run on each guest when it stops (<c>--monitor</c>), or null.</param>
/// <param name="MachineMemoryBytes">The machine's frame pool (<c>--machine-memory</c>), or null for the guests' RAM together.</param>
/// <param name="SwapPath">The swap file, or null for a temporary one.</param>
/// <param name="SwapSizeBytes">The most the swap file holds, or null for the guests' RAM together.</param>
/// <param name="KeepSwap">Leave the swap file in place at exit.</param>
/// <param name="Balloon">With <paramref name="MachineMemoryBytes"/>: balloon devices, asked before swap.</param>
/// <param name="Kernels">
/// Per guest, in <paramref name="Guests"/>' order, where its kernel lies once running when its image does not say
/// (a Linux guest's System.map), for what the shared frames hold; null (the list or an entry) for the image's segments.
/// </param>
/// <param name="Starting">
/// Called with the first guest, the run's sharing engine and the shared console once everything is set up and
/// before any guest runs; when given, it (not the plain stdin pump) owns stdin. The QEMU front end's mon:stdio.
/// </param>
internal sealed record RunPlan(
    IReadOnlyList<VmConfig> Guests,
    bool Deterministic = false,
    int Threads = 1,
    long? Quantum = null,
    string? SerialDir = null,
    string? StatsPath = null,
    bool Summary = false,
    SharingPolicy Sharing = SharingPolicy.Off,
    long ScanRate = RunPlan.DefaultScanRate,
    long? ScanFullEvery = null,
    bool ScanAuto = false,
    int ScanThreads = 1,
    FaultLogging? Faults = null,
    bool DumpPageTables = false,
    StatusMode Status = StatusMode.Auto,
    Debugging.GdbPlan? Gdb = null,
    IReadOnlyList<string>? Monitor = null,
    Action<Vm, SharingEngine?, SharedConsole>? Starting = null,
    long? MachineMemoryBytes = null,
    string? SwapPath = null,
    long? SwapSizeBytes = null,
    bool KeepSwap = false,
    bool Balloon = false,
    IReadOnlyList<IReadOnlyList<MiniHv.Hv.Loader.LoadSegment>?>? Kernels = null)
{
    public const long DefaultScanRate = 1_000_000;
}

/// <summary>The fault log's outputs: human lines on stderr (or another writer), JSON lines in a file, and which faults are written out.</summary>
/// <param name="Text">Where the human lines go instead of stderr (the QEMU front end's -D file), or null.</param>
internal sealed record FaultLogging(bool Console, string? JsonPath, FaultLogPolicy Policy, TextWriter? Text = null);

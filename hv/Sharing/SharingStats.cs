namespace MiniHv.Hv.Sharing;

/// <summary>
/// The sharing engine's counters. Where Linux KSM has a counter of the same meaning it has the same name:
/// <list type="bullet">
/// <item><b>pages_shared</b>: stable (shared, read-only) machine frames in use;</item>
/// <item><b>pages_sharing</b>: guest frames mapped to them beyond the first of each: the frames saved;</item>
/// <item><b>pages_unshared</b>: frames the last full scan found unchanged for a round but matching nothing;</item>
/// <item><b>pages_volatile</b>: frames the last full scan found changed since the scan before;</item>
/// <item><b>full_scans</b>: completed passes over every frame of every guest;</item>
/// <item><b>zero_pages</b> (KSM's ksm_zero_pages): guest frames the engine found all zero and mapped to the zero frame;</item>
/// <item><b>general_profit</b>: bytes saved minus the engine's own metadata, in bytes.</item>
/// </list>
/// And what KSM lacks: merges, breaks of shared frames (<b>cow_breaks</b>), <b>bytes_saved</b>, frames hashed.
/// </summary>
public sealed class SharingStats
{
    public long PagesShared { get; internal set; }

    public long PagesSharing { get; internal set; }

    public long PagesUnshared { get; internal set; }

    public long PagesVolatile { get; internal set; }

    public long FullScans { get; internal set; }

    public long ZeroPages { get; internal set; }

    /// <summary>Guest frames remapped onto a stable frame (each merge saves one frame while it lasts).</summary>
    public long Merges { get; internal set; }

    /// <summary>Guest frames the engine found all zero and mapped to the zero frame, all scans together.</summary>
    public long ZeroMerges { get; internal set; }

    /// <summary>Writes that broke a guest frame away from a stable frame (a hidden copy-on-write fault).</summary>
    public long CowBreaks { get; internal set; }

    /// <summary>Guest frames that left a stable frame because the overcommit reclaimer swapped them out (not a break).</summary>
    public long SwappedOutOfStable { get; internal set; }

    /// <summary>Writes that broke a guest frame away from a zero frame the engine had mapped it to.</summary>
    public long ZeroBreaks { get; internal set; }

    /// <summary>Frames hashed, all scans together.</summary>
    public long FramesHashed { get; internal set; }

    /// <summary>Candidates whose hashes matched but whose bytes did not (a hash collision): never merged.</summary>
    public long HashCollisions { get; internal set; }

    /// <summary>Host time spent scanning and merging (in a parallel run: the scanner threads' busy time, all together).</summary>
    public TimeSpan ScanTime { get; internal set; }

    /// <summary>CPU time the scanner threads used, all together (a parallel run on Linux; else zero).</summary>
    public TimeSpan ScannerCpuTime { get; internal set; }

    /// <summary>Merges the scanner asked of a guest that the guest's thread then found no longer valid (the frame was written meanwhile).</summary>
    public long MergesAbandoned { get; internal set; }

    /// <summary>Host time guest threads spent doing merges the scanner asked for, between their quanta.</summary>
    public TimeSpan MergeStallTime { get; internal set; }

    /// <summary>Bytes of guest memory that need no machine frame of their own thanks to the engine.</summary>
    public long BytesSaved => (PagesSharing + ZeroPages) * 4096;

    /// <summary>Bytes saved minus the engine's metadata, as KSM's general_profit.</summary>
    public long GeneralProfit { get; internal set; }

    /// <summary>Frames hashed per second of scanning.</summary>
    public double FramesHashedPerSecond => ScanTime.TotalSeconds > 0 ? FramesHashed / ScanTime.TotalSeconds : 0;
}

namespace MiniHv.Hv.Sharing;

/// <summary>
/// Memory at the end of one full scan. <see cref="GuestFramesInUse"/> counts guest frames that were ever
/// written (private, shared, or put back on the zero frame by the engine); <see cref="DistinctContents"/>
/// the distinct non-zero contents the scan saw among them: the fewest machine frames that could hold them.
/// </summary>
public readonly record struct SharingSample(
    long FullScans,
    long Instructions,
    long MachineFramesInUse,
    long GuestFramesInUse,
    long DistinctContents,
    long PagesShared,
    long PagesSharing,
    long ZeroPages,
    long CowBreaks);

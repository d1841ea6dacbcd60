namespace MiniHv.Hv.Memory;

/// <summary>
/// A guest needed a machine frame and none may be had: the pool's cap, the guest's own limit, or the
/// host refused more memory. The VM stops that guest ("out of machine memory"); the host carries on.
/// </summary>
public sealed class MachineMemoryExhaustedException : Exception
{
    public MachineMemoryExhaustedException(string message, long limitFrames)
        : base(message)
    {
        LimitFrames = limitFrames;
    }

    public MachineMemoryExhaustedException(string message, long limitFrames, Exception inner)
        : base(message, inner)
    {
        LimitFrames = limitFrames;
    }

    /// <summary>The limit that was reached, in 4 KiB frames.</summary>
    public long LimitFrames { get; }
}

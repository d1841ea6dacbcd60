namespace MiniHv.Hv.Faults;

/// <summary>
/// How many faults of each kind one guest took, and how many of them were logged. Always on, whatever the
/// log policy. One thread counts (the guest's); any thread may read at any time.
/// </summary>
public sealed class FaultCounters
{
    private readonly long[] _seen = new long[FaultKinds.Count];
    private readonly long[] _logged = new long[FaultKinds.Count];
    private readonly long[] _byVector = new long[32];

    /// <summary>Faults of <paramref name="kind"/> so far.</summary>
    public long Seen(FaultKind kind) => Volatile.Read(ref _seen[(int)kind]);

    /// <summary>Faults of <paramref name="kind"/> the log policy let through to the log.</summary>
    public long Logged(FaultKind kind) => Volatile.Read(ref _logged[(int)kind]);

    /// <summary>Exceptions delivered (or not, for a triple fault's last) with vector <paramref name="vector"/>, 0 to 31.</summary>
    public long SeenVector(int vector) => vector is >= 0 and < 32 ? Volatile.Read(ref _byVector[vector]) : 0;

    /// <summary>Every fault the guest saw (exceptions, double and triple faults).</summary>
    public long GuestTotal => FaultKinds.All.Where(k => !FaultKinds.IsHidden(k)).Sum(Seen);

    /// <summary>Every hidden fault the hypervisor resolved.</summary>
    public long HiddenTotal => FaultKinds.All.Where(FaultKinds.IsHidden).Sum(Seen);

    /// <summary>The hidden faults that read a frame back from the swap file (major faults).</summary>
    public long MajorHiddenTotal => FaultKinds.All.Where(FaultKinds.IsMajor).Sum(Seen);

    /// <summary>Count one fault; returns how many of its kind there have been, this one included.</summary>
    internal long Count(FaultKind kind, int? vector)
    {
        if (vector is >= 0 and < 32)
            Interlocked.Increment(ref _byVector[vector.Value]);
        return Interlocked.Increment(ref _seen[(int)kind]);
    }

    internal void CountLogged(FaultKind kind) => Interlocked.Increment(ref _logged[(int)kind]);
}

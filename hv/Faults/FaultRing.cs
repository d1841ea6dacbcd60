namespace MiniHv.Hv.Faults;

/// <summary>
/// The last <see cref="Capacity"/> fault events of one guest, for <c>info faults</c> and the triple-fault dump.
/// One thread adds (the guest's) and never waits; any thread may take a <see cref="Snapshot"/> at any time.
/// </summary>
/// <remarks>
/// Lock-free so that a status line or a debugger reading the ring can never stall the guest. The writer
/// announces each event in <c>_started</c> before it stores the slot, and publishes it in <c>_published</c>
/// after. A reader copies the published events, then reads <c>_started</c>: any copied event at least
/// <see cref="Capacity"/> older than the newest started one may have been overwritten mid-copy, and is dropped.
/// Full fences on both sides make "saw the new slot" imply "sees the new <c>_started</c>".
/// </remarks>
public sealed class FaultRing
{
    private readonly FaultEvent?[] _slots;
    private long _started;
    private long _published;

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public FaultRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new FaultEvent?[capacity];
    }

    public int Capacity => _slots.Length;

    /// <summary>Events ever added (the ring holds the last <see cref="Capacity"/> of them).</summary>
    public long Added => Volatile.Read(ref _published);

    /// <summary>Add an event, dropping the oldest when full. Only the guest's thread may call this.</summary>
    public void Add(FaultEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        long n = _started;
        Interlocked.Exchange(ref _started, n + 1);
        Volatile.Write(ref _slots[n % _slots.Length], e);
        Volatile.Write(ref _published, n + 1);
    }

    /// <summary>The events held, oldest first. Racing the writer, it may hold fewer than the ring does, never a torn or reordered list.</summary>
    public IReadOnlyList<FaultEvent> Snapshot()
    {
        long end = Volatile.Read(ref _published);
        long begin = Math.Max(0, end - _slots.Length);
        var copy = new FaultEvent[end - begin];
        for (long i = begin; i < end; i++)
            copy[i - begin] = Volatile.Read(ref _slots[i % _slots.Length])!;
        Interlocked.MemoryBarrier();
        // The writer may have lapped the whole copy meanwhile: then nothing copied is sure to be intact.
        long firstIntact = Math.Clamp(Volatile.Read(ref _started) - _slots.Length, begin, end);
        return firstIntact == begin ? copy : copy[(int)(firstIntact - begin)..];
    }
}

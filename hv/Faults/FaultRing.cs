using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>
/// The last <see cref="Capacity"/> fault events of one guest, for <c>info faults</c> and the triple-fault dump.
/// One thread adds (the guest's) and never waits; any thread may take a <see cref="Snapshot"/> at any time.
/// An event is added either built or as a <see cref="CapturedException"/>, which the snapshot builds: a guest that
/// faults all the time then fills the ring without allocating.
/// </summary>
/// <remarks>
/// Lock-free so that a status line or a debugger reading the ring can never stall the guest. The writer
/// announces each event in <c>_started</c> before it stores the slot, and publishes it in <c>_published</c>
/// after. A reader copies the published slots, then reads <c>_started</c>: any copied slot at least
/// <see cref="Capacity"/> older than the newest started one may have been overwritten mid-copy, and is dropped.
/// Full fences on both sides make "saw the new slot" imply "sees the new <c>_started</c>".
/// </remarks>
public sealed class FaultRing
{
    private readonly Slot[] _slots;
    private readonly FaultEventBuilder? _builder;
    private long _started;
    private long _published;

    private struct Slot
    {
        public FaultEvent? Built;
        public CapturedException Captured;
    }

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public FaultRing(int capacity)
        : this(capacity, null)
    {
    }

    /// <param name="capacity">How many events it keeps.</param>
    /// <param name="builder">Builds the captured exceptions it is given, when a snapshot is taken.</param>
    internal FaultRing(int capacity, FaultEventBuilder? builder)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new Slot[capacity];
        _builder = builder;
    }

    public int Capacity => _slots.Length;

    /// <summary>Events ever added (the ring holds the last <see cref="Capacity"/> of them).</summary>
    public long Added => Volatile.Read(ref _published);

    /// <summary>Add an event, dropping the oldest when full. Only the guest's thread may call this.</summary>
    public void Add(FaultEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        ref Slot slot = ref Start();
        slot.Built = e;
        Publish();
    }

    /// <summary>
    /// Add an exception the guest sees, captured in place in the ring (<see cref="FaultEventBuilder.Capture"/>) and
    /// built when a snapshot reads it: nothing is allocated. Only the guest's thread may call this, on a ring made
    /// with a builder.
    /// </summary>
    internal void AddCaptured(in FaultRecord record, long instructions, long ordinal, uint codeSegmentBase, int bitness)
    {
        if (_builder == null)
            throw new InvalidOperationException("this ring has no builder for captured exceptions");
        ref Slot slot = ref Start();
        slot.Built = null;
        _builder.Capture(ref slot.Captured, record, instructions, ordinal, codeSegmentBase, bitness);
        Publish();
    }

    private ref Slot Start()
    {
        long n = _started;
        Interlocked.Exchange(ref _started, n + 1);
        return ref _slots[n % _slots.Length];
    }

    private void Publish() => Volatile.Write(ref _published, _started);

    /// <summary>The events held, oldest first. Racing the writer, it may hold fewer than the ring does, never a torn or reordered list.</summary>
    public IReadOnlyList<FaultEvent> Snapshot()
    {
        long end = Volatile.Read(ref _published);
        long begin = Math.Max(0, end - _slots.Length);
        var copy = new Slot[end - begin];
        for (long i = begin; i < end; i++)
            copy[i - begin] = _slots[i % _slots.Length];
        Interlocked.MemoryBarrier();
        // The writer may have lapped the whole copy meanwhile: then nothing copied is sure to be intact.
        long firstIntact = Math.Clamp(Volatile.Read(ref _started) - _slots.Length, begin, end);
        var events = new FaultEvent[end - firstIntact];
        for (long i = firstIntact; i < end; i++)
        {
            ref Slot slot = ref copy[i - begin];
            events[i - firstIntact] = slot.Built ?? _builder!.FromCaptured(slot.Captured);
        }

        return events;
    }
}

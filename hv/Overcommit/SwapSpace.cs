using System.Diagnostics;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Overcommit;

/// <summary>
/// The machine's swap: fixed-size slots of one 4 KiB frame each over an <see cref="ISwapDevice"/>, shared by
/// every guest, with the swap counters. A shared frame's sharers go to one slot, written once: the slot
/// remembers the frame (by allocation, <see cref="MachineMemory.Generation"/>) until the last of them is
/// back, and the first back reads it into a frame the others then map again. Thread-safe: each guest's thread writes and reads its own slots.
/// </summary>
public sealed class SwapSpace : ISwapSlots, IDisposable
{
    private const int FrameSize = MachineMemory.FrameSize;

    private readonly ISwapDevice _device;
    private readonly object _lock = new();
    private readonly Stack<uint> _free = new();

    // Per slot in use: the gfns that hold it, and a frame known to hold its contents read-only (a shared
    // frame's, by allocation), with which a sharer finds the slot its frame is already in.
    private readonly Dictionary<uint, SlotUse> _uses = new();
    private readonly Dictionary<(uint Mfn, uint Generation), uint> _slotOfFrame = new();
    private long _sharedSwapOuts;
    private long _residentSwapIns;

    private sealed class SlotUse
    {
        public int Holders = 1;
        public (uint Mfn, uint Generation)? Resident;
    }
    private uint _nextUnused;
    private long _slotsInUse;
    private long _peakSlots;
    private long _swappedOut;
    private long _swappedIn;
    private long _swapWrites;
    private long _swapReads;
    private long _zeroReclaimed;
    private long _zeroSwapIns;
    private long _swapInTicks;

    /// <param name="device">The file (or stand-in) the slots live in; the space owns it.</param>
    /// <param name="capacitySlots">The most frames in swap at once (<c>--swap-size</c> in frames).</param>
    public SwapSpace(ISwapDevice device, long capacitySlots)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (capacitySlots < 1 || capacitySlots > P2m.MfnMask)
            throw new ArgumentOutOfRangeException(nameof(capacitySlots), capacitySlots, $"a swap space holds 1 to {P2m.MfnMask} frames");
        _device = device;
        CapacitySlots = capacitySlots;
    }

    /// <summary>The swap file's name, for messages.</summary>
    public string Name => _device.Name;

    public long CapacitySlots { get; }

    /// <summary>Frames in swap now.</summary>
    public long SlotsInUse => Volatile.Read(ref _slotsInUse);

    /// <summary>The most frames ever in swap at once.</summary>
    public long PeakSlotsInUse => Volatile.Read(ref _peakSlots);

    /// <summary>Guest frames taken off their machine frame by the reclaimer: written to swap, put in a slot a sharer wrote, or found all zero.</summary>
    public long SwappedOut => Volatile.Read(ref _swappedOut);

    /// <summary>Guest frames brought back by an access (major hidden faults).</summary>
    public long SwappedIn => Volatile.Read(ref _swappedIn);

    /// <summary>Frames written to the swap file (a shared frame once for all its sharers).</summary>
    public long SwapWrites => Volatile.Read(ref _swapWrites);

    /// <summary>Frames read from the swap file (a shared frame once for all its sharers).</summary>
    public long SwapReads => Volatile.Read(ref _swapReads);

    /// <summary>Frames the reclaimer found all zero and put on the zero frame instead of writing them.</summary>
    public long ZeroReclaimed => Volatile.Read(ref _zeroReclaimed);

    /// <summary>Swap-ins whose contents were all zero, mapped to the zero frame.</summary>
    public long ZeroSwapIns => Volatile.Read(ref _zeroSwapIns);

    /// <summary>Shared frames' gfns that went to a slot another sharer had written already: no write.</summary>
    public long SharedSwapOuts => Volatile.Read(ref _sharedSwapOuts);

    /// <summary>Swap-ins that found the contents on a sharer's frame: no read.</summary>
    public long ResidentSwapIns => Volatile.Read(ref _residentSwapIns);

    /// <summary>Host time of all swap-ins (allocation, read, remap).</summary>
    public TimeSpan SwapInTime => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _swapInTicks));

    /// <summary>
    /// Writes a frame to a free slot and returns it; false when every slot is taken.
    /// </summary>
    /// <exception cref="IOException">The device refused the write; no slot is taken.</exception>
    public bool TryWrite(ReadOnlySpan<byte> frame, out uint slot)
    {
        if (frame.Length != FrameSize)
            throw new ArgumentException("a swap slot holds one 4 KiB frame", nameof(frame));
        lock (_lock)
        {
            if (_free.Count > 0)
                slot = _free.Pop();
            else if (_nextUnused < CapacitySlots)
                slot = _nextUnused++;
            else
            {
                slot = 0;
                return false;
            }

            _slotsInUse++;
            _peakSlots = Math.Max(_peakSlots, _slotsInUse);
            _uses[slot] = new SlotUse();
        }

        try
        {
            _device.Write((long)slot * FrameSize, frame);
        }
        catch
        {
            Free(slot);
            throw;
        }

        Interlocked.Increment(ref _swapWrites);
        Interlocked.Increment(ref _swappedOut);
        return true;
    }

    /// <summary>
    /// A gfn on the read-only frame <paramref name="mfn"/> (allocation <paramref name="generation"/>) goes to swap:
    /// into the slot an earlier sharer wrote it to, or a new one written now. False when the swap is full.
    /// </summary>
    /// <exception cref="IOException">The device refused the write; no slot is taken.</exception>
    public bool TryWriteShared(ReadOnlySpan<byte> frame, Mfn mfn, uint generation, out uint slot)
    {
        lock (_lock)
        {
            if (_slotOfFrame.TryGetValue((mfn.Value, generation), out slot))
            {
                _uses[slot].Holders++;
                _sharedSwapOuts++;
                _swappedOut++;
                return true;
            }
        }

        if (!TryWrite(frame, out slot))
            return false;
        lock (_lock)
        {
            _uses[slot].Resident = (mfn.Value, generation);
            _slotOfFrame[(mfn.Value, generation)] = slot;
        }

        return true;
    }

    /// <inheritdoc/>
    public bool IsShared(uint slot)
    {
        lock (_lock)
            return _uses.TryGetValue(slot, out SlotUse? use) && use.Holders > 1;
    }

    /// <inheritdoc/>
    public bool TryGetResident(uint slot, out Mfn mfn, out uint generation)
    {
        lock (_lock)
        {
            if (_uses.TryGetValue(slot, out SlotUse? use) && use.Resident is var (m, g))
            {
                mfn = new Mfn(m);
                generation = g;
                return true;
            }
        }

        mfn = default;
        generation = 0;
        return false;
    }

    /// <inheritdoc/>
    public void SetResident(uint slot, Mfn mfn, uint generation)
    {
        lock (_lock)
        {
            if (!_uses.TryGetValue(slot, out SlotUse? use))
                return;
            if (use.Resident is { } old)
                _slotOfFrame.Remove(old);
            use.Resident = (mfn.Value, generation);
            _slotOfFrame[(mfn.Value, generation)] = slot;
        }
    }

    /// <summary>Counts a frame the reclaimer put on the zero frame rather than in swap.</summary>
    public void CountZeroReclaim()
    {
        Interlocked.Increment(ref _zeroReclaimed);
        Interlocked.Increment(ref _swappedOut);
    }

    /// <inheritdoc/>
    public void Read(uint slot, Span<byte> destination)
    {
        if (destination.Length != FrameSize)
            throw new ArgumentException("a swap slot holds one 4 KiB frame", nameof(destination));
        _device.Read((long)slot * FrameSize, destination);
    }

    /// <inheritdoc/>
    public void Free(uint slot)
    {
        lock (_lock)
        {
            if (_uses.TryGetValue(slot, out SlotUse? use) && --use.Holders > 0)
                return;
            if (use?.Resident is { } resident)
                _slotOfFrame.Remove(resident);
            _uses.Remove(slot);
            _free.Push(slot);
            _slotsInUse--;
        }
    }

    /// <inheritdoc/>
    public void CountSwapIn(long ticks, bool toZeroFrame, bool read = true)
    {
        Interlocked.Increment(ref _swappedIn);
        Interlocked.Increment(ref read ? ref _swapReads : ref _residentSwapIns);
        Interlocked.Add(ref _swapInTicks, ticks);
        if (toZeroFrame)
            Interlocked.Increment(ref _zeroSwapIns);
    }

    public void Dispose() => _device.Dispose();
}

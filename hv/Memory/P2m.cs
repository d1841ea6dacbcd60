using System.Runtime.CompilerServices;

namespace MiniHv.Hv.Memory;

/// <summary>One VM's physical-to-machine table: for each guest frame, the machine frame behind it and whether the guest may write it in place.</summary>
/// <remarks>
/// Every guest frame starts on the zero frame, read-only; a new table is one zeroed array and costs no
/// machine memory. Each non-zero entry owns one reference to its machine frame. An entry is in one of
/// five states, counted as it changes (in <see cref="Remap"/>, <see cref="SwapOut"/> and <see cref="Balloon"/> only):
/// <list type="bullet">
/// <item>zero-mapped: on <see cref="Mfn.Zero"/>, read-only;</item>
/// <item>private: on a frame this guest frame alone may write;</item>
/// <item>read-only: on a non-zero frame that must not be written in place (shared, or about to be).</item>
/// <item>swapped: on no machine frame at all; the contents wait in a swap slot (hv/Overcommit), and the
/// guest's next access is a hidden fault that reads them back.</item>
/// <item>ballooned: on no machine frame and in no slot; the guest's balloon driver gave the frame back
/// (hv/Overcommit/BalloonDevice) and promised not to touch it. If it does, it finds the zero frame.</item>
/// </list>
/// Not thread-safe for changes: only the VM's own thread (or a scanner while the VM is stopped at a
/// safepoint) may remap; the sharing scanner of a parallel run asks the VM's thread to do its merges.
/// Lookups from other threads see whole entries.
/// </remarks>
public sealed class P2m : IDisposable
{
    // Entry layout: the mfn in bits 0-29, bit 31 set when the guest frame may be written in place. With bit 30
    // set the entry holds no machine frame: bits 0-29 are a swap slot.
    internal const uint WritableBit = 0x8000_0000;
    internal const uint SwappedBit = 0x4000_0000;
    internal const uint MfnMask = 0x3FFF_FFFF;

    /// <summary>The entry of a ballooned gfn: swapped, in a slot no swap space ever hands out.</summary>
    internal const uint BalloonedEntry = SwappedBit | MfnMask;

    private readonly MachineMemory _machine;
    private uint[] _entries;
    private long _privateFrames;
    private long _readOnlyFrames;
    private long _swappedFrames;
    private long _balloonedFrames;

    public P2m(MachineMemory machine, uint frameCount)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _machine = machine;
        _entries = new uint[frameCount];
        FrameCount = frameCount;
    }

    /// <summary>
    /// Raised with the gfn after its entry changed (new machine frame, or writability changed). Anyone
    /// caching host addresses or permissions for that gfn (the CPU's TLB, shadow tables) must drop them.
    /// </summary>
    public event Action<uint>? BackingChanged;

    public MachineMemory Machine => _machine;

    /// <summary>Guest frames in the table (the guest's RAM size in frames); 0 once disposed.</summary>
    public uint FrameCount { get; private set; }

    /// <summary>Guest frames on a frame of their own that they may write in place.</summary>
    public long PrivateFrames => _privateFrames;

    /// <summary>Guest frames on a non-zero frame that is read-only to them (shared).</summary>
    public long ReadOnlyFrames => _readOnlyFrames;

    /// <summary>Guest frames whose contents are in a swap slot, on no machine frame.</summary>
    public long SwappedFrames => _swappedFrames;

    /// <summary>Guest frames the guest's balloon holds: on no machine frame, costing nothing.</summary>
    public long BalloonedFrames => _balloonedFrames;

    /// <summary>Guest frames still on the zero frame.</summary>
    public long ZeroMappedFrames => FrameCount - _privateFrames - _readOnlyFrames - _swappedFrames - _balloonedFrames;

    /// <summary>The raw entries, for the per-access paths of <see cref="GuestPhysicalMemory"/>.</summary>
    internal uint[] Entries => _entries;

    /// <summary>The machine frame behind <paramref name="gfn"/>.</summary>
    /// <exception cref="InvalidOperationException">The gfn is swapped out: no machine frame is behind it.</exception>
    public Mfn GetMfn(uint gfn)
    {
        uint entry = Entry(gfn);
        if ((entry & SwappedBit) != 0)
            ThrowSwapped(gfn);
        return new Mfn(entry & MfnMask);
    }

    /// <summary>True when the guest may write <paramref name="gfn"/>'s machine frame in place.</summary>
    public bool IsWritable(uint gfn) => (Entry(gfn) & WritableBit) != 0;

    /// <summary>True while <paramref name="gfn"/> is still on the zero frame.</summary>
    public bool IsZeroMapped(uint gfn) => Entry(gfn) == 0;

    /// <summary>True while <paramref name="gfn"/>'s contents are in a swap slot rather than a machine frame.</summary>
    public bool IsSwapped(uint gfn)
    {
        uint entry = Entry(gfn);
        return (entry & SwappedBit) != 0 && entry != BalloonedEntry;
    }

    /// <summary>True while <paramref name="gfn"/> is in the guest's balloon: no machine frame, no contents.</summary>
    public bool IsBallooned(uint gfn) => Entry(gfn) == BalloonedEntry;

    /// <summary>The swap slot holding a swapped-out gfn's contents.</summary>
    public uint SwapSlot(uint gfn)
    {
        uint entry = Entry(gfn);
        if ((entry & SwappedBit) == 0 || entry == BalloonedEntry)
            throw new InvalidOperationException($"gfn 0x{gfn:x} is not swapped out");
        return entry & MfnMask;
    }

    /// <summary>
    /// A gfn's contents (a private or a shared frame's) are now in swap slot <paramref name="slot"/>: the entry
    /// points at no machine frame, its mappings are shot down (<see cref="BackingChanged"/>) and then its
    /// reference to its frame is dropped.
    /// </summary>
    public void SwapOut(uint gfn, uint slot)
    {
        uint old = Entry(gfn);
        if ((old & SwappedBit) != 0 || old == 0)
            throw new InvalidOperationException($"gfn 0x{gfn:x}: only a gfn on a machine frame of its own or a shared one is swapped out");
        if (slot >= MfnMask)
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "swap slot out of range");
        _entries[gfn] = SwappedBit | slot;
        Count(old, -1);
        _swappedFrames++;
        BackingChanged?.Invoke(gfn);
        _machine.Release(new Mfn(old & MfnMask));
    }

    /// <summary>
    /// The guest's balloon took <paramref name="gfn"/>: the entry points at no machine frame, its mappings are
    /// shot down (<see cref="BackingChanged"/>) and its reference to its frame is dropped. A swapped-out gfn's
    /// slot is its owner's to free first. <see cref="Remap"/> onto the zero frame gives it back.
    /// </summary>
    public void Balloon(uint gfn)
    {
        uint old = Entry(gfn);
        if (old == BalloonedEntry)
            return;
        _entries[gfn] = BalloonedEntry;
        Count(old, -1);
        _balloonedFrames++;
        BackingChanged?.Invoke(gfn);
        if ((old & SwappedBit) == 0)
            _machine.Release(new Mfn(old & MfnMask));
    }

    /// <summary>
    /// Point <paramref name="gfn"/> at <paramref name="mfn"/>, taking over one reference the caller holds to
    /// it, and drop the gfn's reference to its previous frame. The zero frame is never writable.
    /// Raises <see cref="BackingChanged"/> when the entry changed.
    /// </summary>
    public void Remap(uint gfn, Mfn mfn, bool writable)
    {
        uint old = Entry(gfn);
        if (mfn.Value > MfnMask)
            throw new ArgumentOutOfRangeException(nameof(mfn), mfn, "machine frame number out of range");
        if (mfn.IsZero && writable)
            throw new InvalidOperationException($"gfn 0x{gfn:x}: the zero frame is never writable");

        uint entry = mfn.Value | (writable ? WritableBit : 0);
        _entries[gfn] = entry;
        Count(old, -1);
        Count(entry, +1);
        // Notify before releasing: nobody may still cache the old frame once another VM can get it.
        if (entry != old)
            BackingChanged?.Invoke(gfn);
        if ((old & SwappedBit) == 0)
            _machine.Release(new Mfn(old & MfnMask));
    }

    /// <summary>Put every guest frame back on the zero frame, releasing what they held (swap slots are their owner's to free).</summary>
    public void Clear()
    {
        for (uint gfn = 0; gfn < FrameCount; gfn++)
        {
            if (_entries[gfn] != 0)
                Remap(gfn, Mfn.Zero, writable: false);
        }
    }

    /// <summary>Returns every machine frame this table holds to the pool; the table is then empty.</summary>
    public void Dispose()
    {
        if (FrameCount == 0)
            return;
        uint[] entries = _entries;
        uint count = FrameCount;
        FrameCount = 0;
        _entries = [];
        for (uint gfn = 0; gfn < count; gfn++)
        {
            uint mfn = entries[gfn] & MfnMask;
            if (mfn != 0 && (entries[gfn] & SwappedBit) == 0)
                _machine.Release(new Mfn(mfn));
        }
        _privateFrames = 0;
        _readOnlyFrames = 0;
        _swappedFrames = 0;
        _balloonedFrames = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Entry(uint gfn)
    {
        if (gfn >= FrameCount)
            ThrowNoSuchGfn(gfn);
        return _entries[gfn];
    }

    private void Count(uint entry, int delta)
    {
        if (entry == BalloonedEntry)
            _balloonedFrames += delta;
        else if ((entry & SwappedBit) != 0)
            _swappedFrames += delta;
        else if ((entry & WritableBit) != 0)
            _privateFrames += delta;
        else if ((entry & MfnMask) != 0)
            _readOnlyFrames += delta;
    }

    private static void ThrowSwapped(uint gfn)
        => throw new InvalidOperationException($"gfn 0x{gfn:x} is swapped out: it has no machine frame");

    private void ThrowNoSuchGfn(uint gfn)
        => throw new ArgumentOutOfRangeException(nameof(gfn), $"gfn 0x{gfn:x} is beyond the guest's {FrameCount} frames of RAM");
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MiniHv.Cpu;
using MiniHv.Hv.Devices;

namespace MiniHv.Hv.Memory;

/// <summary>One guest's RAM as its CPU and devices see it: guest frames over a <see cref="P2m"/> onto the shared <see cref="MachineMemory"/>.</summary>
/// <remarks>
/// RAM spans guest-physical addresses 0 up to <see cref="RamBytes"/>; the legacy VGA/BIOS hole
/// (0xA0000-0xFFFFF) is plain RAM here, so the CGA text buffer at 0xB8000 is read by its device from RAM.
/// Above RAM nothing answers (reads give zeros and writes vanish, as on QEMU, whose transcripts our users
/// compare with; a PC's open bus would read all ones), except in the device area
/// from <see cref="DeviceAreaBase"/> up, where the CPU's accesses go to the <see cref="Mmio"/> bus: the I/O
/// APIC at 0xFEC00000 and the local APIC at 0xFEE00000. The loader and device helpers below see RAM only.
///
/// Lazy allocation: every guest frame starts on the zero frame. The first write to a frame that is not
/// writable in place (the zero frame, or later a shared one) is a hidden fault resolved by a break: copy
/// the current contents into a fresh private frame, repoint the gfn, drop the old reference, and raise
/// <see cref="BackingChanged"/> so the CPU drops its TLB entries for that gfn (a host address it got from
/// <see cref="FrameForRead"/> is stale from then on).
///
/// Swap: between quanta the overcommit reclaimer (hv/Overcommit) may move a private frame's contents to a
/// swap slot (<see cref="P2m.SwapOut"/>). The next access of the CPU or a device to it is a hidden fault
/// that reads the slot into a fresh frame, or maps the zero frame when the contents are all zero
/// (<see cref="FrameSwappedIn"/>).
///
/// Ballooning: a frame the guest's balloon driver gave back (<see cref="Balloon"/>) has no machine frame. The
/// guest promised not to touch it; if it does, the access is a hidden fault that maps the zero frame, so it
/// reads zeros, and <see cref="BalloonedFrameTouched"/> tells the fault log. <see cref="Unballoon"/> gives it
/// back lazily, on the zero frame: it costs a machine frame only once the guest writes it.
///
/// Not thread-safe: the VM's thread owns it (devices included). A scanner may read frames concurrently.
/// </remarks>
public sealed unsafe class GuestPhysicalMemory : IPhysicalMemory, IDisposable
{
    private const int FrameSize = MachineMemory.FrameSize;
    private const int FrameShift = MachineMemory.FrameShift;
    private const uint OffsetMask = FrameSize - 1;

    /// <summary>
    /// Largest RAM: QEMU's pc machine keeps up to just under 3.5 GiB below 4 GiB and moves the rest above
    /// 4 GiB, which a 32-bit guest without PAE cannot reach.
    /// </summary>
    public const long MaxRamBytes = 0xE000_0000L - FrameSize;

    /// <summary>The bottom of the PC's device area (the I/O APIC's window): CPU accesses from here up go to <see cref="Mmio"/>.</summary>
    public const uint DeviceAreaBase = 0xFEC0_0000;

    private readonly MachineMemory _machine;
    private readonly P2m _p2m;
    private readonly long _privateFrameLimit;
    private uint[] _entries;
    private uint _frameCount;
    private long _zeroFrameBreaks;
    private long _copyOnWriteBreaks;
    private long _copyOnWriteBreakTicks;
    private long _swapIns;

    /// <param name="machine">The pool that backs this guest's frames.</param>
    /// <param name="ramBytes">RAM size: a positive multiple of 4 KiB, at most <see cref="MaxRamBytes"/>.</param>
    /// <param name="privateFrameLimit">The most private frames this guest may hold, or null for only the pool's cap.</param>
    public GuestPhysicalMemory(MachineMemory machine, long ramBytes, long? privateFrameLimit = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (ramBytes <= 0 || ramBytes % FrameSize != 0 || ramBytes > MaxRamBytes)
            throw new ArgumentOutOfRangeException(nameof(ramBytes), ramBytes,
                $"guest RAM must be a positive multiple of 4 KiB up to {MaxRamBytes >> 20} MiB");
        if (privateFrameLimit is < 0)
            throw new ArgumentOutOfRangeException(nameof(privateFrameLimit), privateFrameLimit, "a frame limit cannot be negative");

        _machine = machine;
        RamBytes = ramBytes;
        _frameCount = (uint)(ramBytes >> FrameShift);
        _p2m = new P2m(machine, _frameCount);
        _entries = _p2m.Entries;
        PrivateFrameLimit = privateFrameLimit;
        _privateFrameLimit = privateFrameLimit ?? long.MaxValue;
    }

    /// <summary>Raised with a gfn whose machine frame or writability changed; wire it to the CPU's TLB flush.</summary>
    public event Action<uint>? BackingChanged
    {
        add => _p2m.BackingChanged += value;
        remove => _p2m.BackingChanged -= value;
    }

    /// <summary>
    /// Raised after a write gave <c>gfn</c> a private frame: true when it left the zero frame, false for a
    /// copy-on-write break of a shared frame. A hidden fault the guest never sees, for the fault log.
    /// </summary>
    public event Action<uint, bool>? FrameBroken;

    /// <summary>Raised after an access brought <c>gfn</c> back from its swap slot: a major hidden fault, for the fault log.</summary>
    public event Action<uint>? FrameSwappedIn;

    /// <summary>Raised after an access touched <c>gfn</c> while it was in the balloon: it now reads zeros (the guest broke its promise).</summary>
    public event Action<uint>? BalloonedFrameTouched;

    /// <summary>
    /// Raised on the guest's thread after it took a frame with the pool above <see cref="MachineMemory.PressureFrames"/>:
    /// the VM ends its quantum there, so that frames can be reclaimed before the pool runs out.
    /// </summary>
    public event Action? MemoryPressure;

    /// <summary>The swap space this guest's swapped-out frames are in; null while nothing may be swapped.</summary>
    public ISwapSlots? Swap { get; set; }

    /// <summary>Accesses that had to read a frame back from swap (major hidden faults).</summary>
    public long SwapIns => _swapIns;

    /// <summary>Guest frames whose contents are in swap now.</summary>
    public long SwappedFrames => _p2m.SwappedFrames;

    /// <summary>Guest frames in the guest's balloon now.</summary>
    public long BalloonedFrames => _p2m.BalloonedFrames;

    /// <summary>Accesses to a ballooned frame: the guest touched a frame it had given back.</summary>
    public long BalloonTouches { get; private set; }

    public MachineMemory Machine => _machine;

    public P2m P2m => _p2m;

    /// <summary>RAM size in bytes.</summary>
    public long RamBytes { get; }

    /// <summary>RAM size in guest frames; 0 once disposed.</summary>
    public uint FrameCount => _frameCount;

    /// <summary>The most private frames this guest may hold, or null when only the pool's cap applies.</summary>
    public long? PrivateFrameLimit { get; }

    /// <summary>Guest frames backed by a machine frame of their own.</summary>
    public long PrivateFrames => _p2m.PrivateFrames;

    /// <summary>Guest frames still on the zero frame: RAM that costs nothing.</summary>
    public long ZeroMappedFrames => _p2m.ZeroMappedFrames;

    /// <summary>Guest frames on a read-only, non-zero (shared) machine frame.</summary>
    public long ReadOnlyFrames => _p2m.ReadOnlyFrames;

    /// <summary>Writes that moved a guest frame off the zero frame (hidden faults).</summary>
    public long ZeroFrameBreaks => _zeroFrameBreaks;

    /// <summary>Writes that copied a read-only, non-zero frame into a private one (hidden faults).</summary>
    public long CopyOnWriteBreaks => _copyOnWriteBreaks;

    /// <summary>Host time the guest spent in those copy-on-write breaks: what sharing cost it on the write path.</summary>
    public TimeSpan CopyOnWriteBreakTime => Stopwatch.GetElapsedTime(0, _copyOnWriteBreakTicks);

    /// <summary>
    /// The memory-mapped devices the CPU reaches in the device area (from <see cref="DeviceAreaBase"/> to 4 GiB),
    /// or null for none. Holes between RAM and the device area stay plain holes, so a guest that probes the
    /// whole address space costs no bookkeeping.
    /// </summary>
    public MmioBus? Mmio { get; set; }

    /// <summary>True when the byte at <paramref name="gpa"/> is RAM.</summary>
    public bool IsRam(uint gpa) => (gpa >> FrameShift) < _frameCount;

    // ---- IPhysicalMemory: the CPU's paths --------------------------------------------------

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* FrameForRead(uint gfn)
    {
        if (gfn >= _frameCount)
            return null;
        uint entry = _entries[gfn];
        if ((entry & P2m.SwappedBit) != 0)
            return SwapIn(gfn);
        return _machine.FrameAddress(entry & P2m.MfnMask);
    }

    /// <inheritdoc />
    /// <exception cref="MachineMemoryExhaustedException">A break needed a frame and none may be had.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* FrameForWrite(uint gfn)
    {
        if (gfn >= _frameCount)
            return null;
        uint entry = _entries[gfn];
        if ((entry & P2m.WritableBit) != 0)
            return _machine.FrameAddress(entry & P2m.MfnMask);
        if ((entry & P2m.SwappedBit) != 0)
        {
            SwapIn(gfn);
            if (_p2m.IsWritable(gfn))
                return _machine.FrameAddress(_entries[gfn] & P2m.MfnMask);
        }
        return Break(gfn);
    }

    /// <summary>
    /// Bring <paramref name="gfn"/> back from its swap slot: into a fresh private frame, or onto the zero frame
    /// when it holds only zeros. A slot other gfns hold too (a shared frame swapped out once for all) comes
    /// back read-only: onto the frame a sharer still has or already read it into, else into a fresh frame the
    /// others will find. Returns the host address the guest now reads it at.
    /// </summary>
    /// <exception cref="MachineMemoryExhaustedException">No frame may be had, or the swap file cannot be read.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* SwapIn(uint gfn)
    {
        if (_entries[gfn] == P2m.BalloonedEntry)
            return TouchBallooned(gfn);
        long start = Stopwatch.GetTimestamp();
        uint slot = _p2m.SwapSlot(gfn);
        ISwapSlots swap = Swap ?? throw new InvalidOperationException($"gfn 0x{gfn:x} is swapped out but the guest has no swap space");
        if (swap.TryGetResident(slot, out Mfn resident, out uint generation) && _machine.TryAddRef(resident, generation))
        {
            // Another sharer still holds the frame, or read it back already: map it again, read nothing.
            _p2m.Remap(gfn, resident, writable: false);
            swap.Free(slot);
            _swapIns++;
            swap.CountSwapIn(Stopwatch.GetTimestamp() - start, toZeroFrame: false, read: false);
            FrameSwappedIn?.Invoke(gfn);
            return _machine.FrameAddress(resident);
        }

        bool shared = swap.IsShared(slot);
        if (!shared && _p2m.PrivateFrames >= _privateFrameLimit)
            ThrowGuestLimitReached();
        Mfn fresh = _machine.AllocateZeroed();
        var bytes = new Span<byte>(_machine.FrameAddress(fresh), FrameSize);
        try
        {
            swap.Read(slot, bytes);
        }
        catch (IOException e)
        {
            _machine.Release(fresh);
            throw new MachineMemoryExhaustedException($"out of machine memory: cannot read gfn 0x{gfn:x} back from the swap file: {e.Message}", 0, e);
        }

        bool zero = bytes.IndexOfAnyExcept((byte)0) < 0;
        if (zero)
        {
            _machine.Release(fresh);
            _p2m.Remap(gfn, Mfn.Zero, writable: false);
        }
        else if (shared)
        {
            // The other sharers will find it here: one read for all, and they share the frame again.
            _p2m.Remap(gfn, fresh, writable: false);
            swap.SetResident(slot, fresh, _machine.Generation(fresh));
        }
        else
        {
            _p2m.Remap(gfn, fresh, writable: true);
        }

        swap.Free(slot);
        _swapIns++;
        swap.CountSwapIn(Stopwatch.GetTimestamp() - start, zero);
        FrameSwappedIn?.Invoke(gfn);
        if (_machine.FramesInUse > _machine.PressureFrames)
            MemoryPressure?.Invoke();
        return _machine.FrameAddress(_entries[gfn] & P2m.MfnMask);
    }

    /// <summary>The guest touched a frame in its balloon: it gets the zero frame (reads zeros), and the fault log hears of it.</summary>
    private byte* TouchBallooned(uint gfn)
    {
        _p2m.Remap(gfn, Mfn.Zero, writable: false);
        BalloonTouches++;
        BalloonedFrameTouched?.Invoke(gfn);
        return _machine.FrameAddress(Mfn.Zero);
    }

    /// <summary>
    /// The guest's balloon driver gave <paramref name="gfn"/> back: its machine frame (or its swap slot) goes back
    /// to the pool. False, with nothing changed, when the gfn is beyond RAM or in the balloon already.
    /// On the guest's thread only.
    /// </summary>
    public bool Balloon(uint gfn)
    {
        if (gfn >= _frameCount || _entries[gfn] == P2m.BalloonedEntry)
            return false;
        if ((_entries[gfn] & P2m.SwappedBit) != 0)
            Swap?.Free(_entries[gfn] & P2m.MfnMask);
        _p2m.Balloon(gfn);
        return true;
    }

    /// <summary>
    /// The guest's balloon driver took <paramref name="gfn"/> back: it is on the zero frame again and costs a
    /// machine frame only once written (deflating is lazy). False when it was not in the balloon.
    /// </summary>
    public bool Unballoon(uint gfn)
    {
        if (gfn >= _frameCount || _entries[gfn] != P2m.BalloonedEntry)
            return false;
        _p2m.Remap(gfn, Mfn.Zero, writable: false);
        return true;
    }

    /// <summary>
    /// Copies guest frame <paramref name="gfn"/>'s contents into <paramref name="destination"/> (4 KiB) wherever
    /// they are, a swap slot included, without bringing anything back: for statistics and checks while the guest is stopped.
    /// </summary>
    public void PeekFrame(uint gfn, Span<byte> destination)
    {
        if (destination.Length < FrameSize)
            throw new ArgumentException("a frame is 4 KiB", nameof(destination));
        if (gfn >= _frameCount)
        {
            destination[..FrameSize].Clear();
            return;
        }

        uint entry = _entries[gfn];
        if (entry == P2m.BalloonedEntry)
            destination[..FrameSize].Clear();
        else if ((entry & P2m.SwappedBit) != 0)
            (Swap ?? throw new InvalidOperationException("a swapped frame without a swap space")).Read(entry & P2m.MfnMask, destination[..FrameSize]);
        else
            new ReadOnlySpan<byte>(_machine.FrameAddress(entry & P2m.MfnMask), FrameSize).CopyTo(destination);
    }

    /// <inheritdoc />
    public uint ReadUnbacked(uint physicalAddress, int size)
    {
        if (physicalAddress >= DeviceAreaBase && Mmio is { } bus)
            return bus.Read(physicalAddress, size);
        return 0;
    }

    /// <inheritdoc />
    public void WriteUnbacked(uint physicalAddress, int size, uint value)
    {
        if (physicalAddress >= DeviceAreaBase && Mmio is { } bus)
            bus.Write(physicalAddress, size, value);
    }

    /// <summary>
    /// Give <paramref name="gfn"/> a private frame holding its current contents (zeros for the zero frame),
    /// release the old one and notify. Returns the new frame's host address.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* Break(uint gfn)
    {
        if (_p2m.PrivateFrames >= _privateFrameLimit)
            ThrowGuestLimitReached();
        Mfn old = _p2m.GetMfn(gfn);
        long start = old.IsZero ? 0 : Stopwatch.GetTimestamp();
        Mfn fresh = old.IsZero ? _machine.AllocateZeroed() : _machine.AllocateCopy(old);
        _p2m.Remap(gfn, fresh, writable: true);
        if (old.IsZero)
        {
            _zeroFrameBreaks++;
        }
        else
        {
            _copyOnWriteBreaks++;
            _copyOnWriteBreakTicks += Stopwatch.GetTimestamp() - start;
        }
        FrameBroken?.Invoke(gfn, old.IsZero);
        if (_machine.FramesInUse > _machine.PressureFrames)
            MemoryPressure?.Invoke();
        return _machine.FrameAddress(fresh);
    }

    // ---- Helpers for the loader, devices and tests ----------------------------------------
    // Addresses wrap at 4 GiB like the physical address bus; bytes outside RAM read as 0 and
    // writes to them are dropped, exactly as for the CPU.

    /// <summary>Copies guest-physical memory from <paramref name="gpa"/> into <paramref name="destination"/>.</summary>
    public void Read(uint gpa, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int offset = (int)(gpa & OffsetMask);
            int n = Math.Min(destination.Length, FrameSize - offset);
            byte* frame = FrameForRead(gpa >> FrameShift);
            if (frame == null)
                destination[..n].Clear();
            else
                new ReadOnlySpan<byte>(frame + offset, n).CopyTo(destination);
            destination = destination[n..];
            gpa += (uint)n;
        }
    }

    /// <summary>Copies <paramref name="source"/> into guest-physical memory at <paramref name="gpa"/>, breaking frames as needed.</summary>
    /// <exception cref="MachineMemoryExhaustedException">A frame could not be allocated.</exception>
    public void Write(uint gpa, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int offset = (int)(gpa & OffsetMask);
            int n = Math.Min(source.Length, FrameSize - offset);
            byte* frame = FrameForWrite(gpa >> FrameShift);
            if (frame != null)
                source[..n].CopyTo(new Span<byte>(frame + offset, n));
            source = source[n..];
            gpa += (uint)n;
        }
    }

    /// <summary>
    /// Sets <paramref name="length"/> bytes from <paramref name="gpa"/> to <paramref name="value"/>. Zeroing
    /// skips frames still on the zero frame, so clearing untouched RAM allocates nothing.
    /// </summary>
    /// <exception cref="MachineMemoryExhaustedException">A frame could not be allocated.</exception>
    public void Fill(uint gpa, long length, byte value)
    {
        if (length < 0 || length > 1L << 32)
            throw new ArgumentOutOfRangeException(nameof(length), length, "a fill covers 0 to 4 GiB");
        while (length > 0)
        {
            int offset = (int)(gpa & OffsetMask);
            int n = (int)Math.Min(length, FrameSize - offset);
            uint gfn = gpa >> FrameShift;
            if (gfn < _frameCount && !(value == 0 && _entries[gfn] == 0))
                new Span<byte>(FrameForWrite(gfn) + offset, n).Fill(value);
            length -= n;
            gpa += (uint)n;
        }
    }

    public byte ReadByte(uint gpa)
    {
        byte* frame = FrameForRead(gpa >> FrameShift);
        return frame == null ? (byte)0 : frame[gpa & OffsetMask];
    }

    public ushort ReadUInt16(uint gpa)
    {
        Span<byte> bytes = stackalloc byte[2];
        Read(gpa, bytes);
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    public uint ReadUInt32(uint gpa)
    {
        Span<byte> bytes = stackalloc byte[4];
        Read(gpa, bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    public ulong ReadUInt64(uint gpa)
    {
        Span<byte> bytes = stackalloc byte[8];
        Read(gpa, bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    public void WriteByte(uint gpa, byte value)
    {
        byte* frame = FrameForWrite(gpa >> FrameShift);
        if (frame != null)
            frame[gpa & OffsetMask] = value;
    }

    public void WriteUInt16(uint gpa, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value);
        Write(gpa, bytes);
    }

    public void WriteUInt32(uint gpa, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        Write(gpa, bytes);
    }

    public void WriteUInt64(uint gpa, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Write(gpa, bytes);
    }

    /// <summary>Raised once, before the frames go back to the pool: whoever keeps track of them (a sharing engine) lets go now.</summary>
    public event Action? Disposing;

    /// <summary>Returns every machine frame of this guest to the pool. Afterwards nothing is RAM.</summary>
    public void Dispose()
    {
        if (_frameCount != 0)
        {
            Action? disposing = Disposing;
            Disposing = null;
            disposing?.Invoke();
        }

        if (Swap is { } swap)
        {
            for (uint gfn = 0; gfn < _frameCount; gfn++)
            {
                if ((_entries[gfn] & P2m.SwappedBit) != 0 && _entries[gfn] != P2m.BalloonedEntry)
                    swap.Free(_entries[gfn] & P2m.MfnMask);
            }
        }

        _frameCount = 0;
        _entries = [];
        _p2m.Dispose();
    }

    private void ThrowGuestLimitReached()
        => throw new MachineMemoryExhaustedException(
            $"out of machine memory: the guest holds its limit of {_privateFrameLimit} frames ({MachineMemory.FormatFrames(_privateFrameLimit)})",
            _privateFrameLimit);
}

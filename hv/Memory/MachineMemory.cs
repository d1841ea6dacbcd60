using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniHv.Hv.Memory;

/// <summary>
/// The machine's RAM: one pool of 4 KiB frames in native memory shared by every VM in the process,
/// with a reference count per frame, a free list and a hard cap.
/// </summary>
/// <remarks>
/// Frames come in chunks of 512 (2 MiB), allocated when guests first need them, rather than one
/// reservation of the whole cap up front: the host commits only what guests actually write, a cap larger
/// than the host's free memory costs nothing, and no overcommit policy can refuse a giant reservation at
/// start-up. A chunk is never moved or freed before the pool is disposed, so a frame's host address never
/// changes (CPU TLBs and shadow tables keep it).
///
/// Machine frame 0 is the zero frame: all zeros, never handed out for writing, shared by every untouched
/// guest frame of every VM. It is pinned rather than counted (every P2m counts its own zero-mapped
/// frames), so a million untouched guest frames never contend on one counter. The cap and the in-use
/// counters do not include it.
///
/// Thread safety: allocation, reference counting and release may be called from any thread, since each
/// VM runs on its own. A frame's contents belong to whoever holds its references.
/// </remarks>
public sealed unsafe class MachineMemory : IDisposable
{
    public const int FrameSize = 4096;
    public const int FrameShift = 12;

    /// <summary>Largest cap: 2^28 frames (1 TiB), which keeps every mfn within the P2m's 30 bits.</summary>
    public const long MaxCapFrames = 1L << 28;

    private const int ChunkShift = 9;
    private const int ChunkFrames = 1 << ChunkShift;
    private const uint ChunkMask = ChunkFrames - 1;
    private const long ChunkBytes = (long)ChunkFrames * FrameSize;

    private readonly object _lock = new();

    // Indexed by mfn >> ChunkShift; sized for the cap up front so a lookup never sees the array move.
    private readonly nint[] _chunkBases;
    private readonly int[]?[] _refCounts;

    // How many times each frame was handed out: a frame and its generation name one allocation, so a note
    // about a frame's contents (the swap's cache) cannot be mistaken for a later use of the same frame.
    private readonly uint[]?[] _generations;

    private readonly Stack<uint> _free = new();
    private int _chunkCount;
    private uint _nextUnused;
    private long _inUse;
    private long _peak;
    private bool _disposed;

    /// <param name="capFrames">The most frames guests may hold at once, not counting the zero frame.</param>
    public MachineMemory(long capFrames)
    {
        if (capFrames < 1 || capFrames > MaxCapFrames)
            throw new ArgumentOutOfRangeException(nameof(capFrames), capFrames,
                $"the machine memory cap must be between 1 and {MaxCapFrames} frames of 4 KiB");
        CapFrames = capFrames;
        long slots = (capFrames + 1 + ChunkFrames - 1) >> ChunkShift;
        _chunkBases = new nint[slots];
        _refCounts = new int[]?[slots];
        _generations = new uint[]?[slots];
        AddChunk();
        NativeMemory.Clear((byte*)_chunkBases[0], FrameSize);
        _nextUnused = 1;
    }

    /// <summary>A pool whose cap is <paramref name="capBytes"/>, rounded down to whole frames.</summary>
    public static MachineMemory WithCapBytes(long capBytes) => new(capBytes >> FrameShift);

    /// <summary>
    /// Frames in use above which a guest that allocates is asked to end its quantum (<see cref="GuestPhysicalMemory.MemoryPressure"/>),
    /// so that the overcommit reclaimer gets its safepoint; no limit unless one is set.
    /// </summary>
    public long PressureFrames { get; set; } = long.MaxValue;

    /// <summary>The hard cap: the most frames in use at once.</summary>
    public long CapFrames { get; }

    /// <summary>Frames held by guests right now (the zero frame excluded).</summary>
    public long FramesInUse => Volatile.Read(ref _inUse);

    /// <summary>The most frames ever in use at once.</summary>
    public long PeakFramesInUse => Volatile.Read(ref _peak);

    /// <summary>Frames returned and waiting on the free list.</summary>
    public int FreeListFrames
    {
        get { lock (_lock) return _free.Count; }
    }

    /// <summary>Host memory the pool holds in chunks, used or not.</summary>
    public long HostBytesAllocated => Volatile.Read(ref _chunkCount) * ChunkBytes;

    /// <summary>Host address of a frame's first byte. The frame must be allocated (or be the zero frame).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* FrameAddress(Mfn mfn) => FrameAddress(mfn.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte* FrameAddress(uint mfn)
        => (byte*)_chunkBases[mfn >> ChunkShift] + ((nint)(mfn & ChunkMask) << FrameShift);

    /// <summary>The bytes of a frame, for hashing and comparing.</summary>
    public ReadOnlySpan<byte> FrameBytes(Mfn mfn)
    {
        CheckAllocated(mfn.Value);
        return new ReadOnlySpan<byte>(FrameAddress(mfn.Value), FrameSize);
    }

    /// <summary>A fresh, all-zero frame with one reference, owned by the caller.</summary>
    /// <exception cref="MachineMemoryExhaustedException">The cap is reached or the host refuses memory.</exception>
    public Mfn AllocateZeroed()
    {
        uint mfn = TakeFrame();
        NativeMemory.Clear(FrameAddress(mfn), FrameSize);
        return new Mfn(mfn);
    }

    /// <summary>A fresh frame holding a copy of <paramref name="source"/>, with one reference, owned by the caller.</summary>
    /// <exception cref="MachineMemoryExhaustedException">The cap is reached or the host refuses memory.</exception>
    public Mfn AllocateCopy(Mfn source)
    {
        CheckAllocated(source.Value);
        uint mfn = TakeFrame();
        Buffer.MemoryCopy(FrameAddress(source.Value), FrameAddress(mfn), FrameSize, FrameSize);
        return new Mfn(mfn);
    }

    /// <summary>Take one more reference to an allocated frame (a no-op on the pinned zero frame).</summary>
    public void AddRef(Mfn mfn)
    {
        if (mfn.IsZero)
            return;
        CheckAllocated(mfn.Value);
        int after = Interlocked.Increment(ref RefCountSlot(mfn.Value));
        if (after <= 1)
            ThrowNotReferenced(mfn);
    }

    /// <summary>Which allocation of <paramref name="mfn"/> this is: it changes each time the frame is handed out again.</summary>
    public uint Generation(Mfn mfn)
    {
        CheckAllocated(mfn.Value);
        return Volatile.Read(ref _generations[mfn.Value >> ChunkShift]![mfn.Value & ChunkMask]);
    }

    /// <summary>
    /// Takes one more reference to <paramref name="mfn"/> if it is still the allocation <paramref name="generation"/>
    /// names (not freed since, nor handed out again); false, and nothing taken, otherwise. Any thread.
    /// </summary>
    public bool TryAddRef(Mfn mfn, uint generation)
    {
        if (mfn.IsZero || mfn.Value >= Volatile.Read(ref _nextUnused))
            return false;
        ref int count = ref RefCountSlot(mfn.Value);
        while (true)
        {
            int seen = Volatile.Read(ref count);
            if (seen <= 0)
                return false;
            if (Interlocked.CompareExchange(ref count, seen + 1, seen) == seen)
                break;
        }

        // Freed and handed out again between the look and the take: that reference is not ours to keep.
        if (Generation(mfn) != generation)
        {
            Release(mfn);
            return false;
        }

        return true;
    }

    /// <summary>Drop one reference; the frame goes back to the free list with its last one (a no-op on the zero frame).</summary>
    public void Release(Mfn mfn)
    {
        if (mfn.IsZero || Volatile.Read(ref _disposed))
            return;
        CheckAllocated(mfn.Value);
        int after = Interlocked.Decrement(ref RefCountSlot(mfn.Value));
        if (after > 0)
            return;
        if (after < 0)
            ThrowNotReferenced(mfn);
        lock (_lock)
        {
            if (_disposed)
                return;
            _free.Push(mfn.Value);
            _inUse--;
        }
    }

    /// <summary>References to a frame: 0 when free, and 0 for the pinned zero frame, which is not counted.</summary>
    public int RefCount(Mfn mfn)
    {
        if (mfn.IsZero)
            return 0;
        CheckAllocated(mfn.Value);
        return Volatile.Read(ref RefCountSlot(mfn.Value));
    }

    /// <summary>True while the zero frame holds nothing but zeros, as it always must.</summary>
    public bool IsZeroFrameIntact() => new ReadOnlySpan<byte>(FrameAddress(0), FrameSize).IndexOfAnyExcept((byte)0) < 0;

    /// <summary>
    /// Frees the pool's host memory. Dispose every guest memory built on it first: their frame addresses die
    /// with the pool (releasing frames afterwards is harmless, touching them is not).
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            for (int i = 0; i < _chunkCount; i++)
            {
                NativeMemory.AlignedFree((void*)_chunkBases[i]);
                _chunkBases[i] = 0;
                _refCounts[i] = null;
                _generations[i] = null;
            }
            _chunkCount = 0;
            _free.Clear();
            _inUse = 0;
        }
    }

    private uint TakeFrame()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_inUse >= CapFrames)
                ThrowPoolExhausted();
            uint mfn;
            if (_free.Count > 0)
            {
                mfn = _free.Pop();
            }
            else
            {
                if ((_nextUnused >> ChunkShift) == _chunkCount)
                    AddChunk();
                mfn = _nextUnused++;
            }
            _refCounts[mfn >> ChunkShift]![mfn & ChunkMask] = 1;
            _generations[mfn >> ChunkShift]![mfn & ChunkMask]++;
            _inUse++;
            if (_inUse > _peak)
                _peak = _inUse;
            return mfn;
        }
    }

    // Called under the lock (or from the constructor).
    private void AddChunk()
    {
        void* chunk;
        try
        {
            chunk = NativeMemory.AlignedAlloc((nuint)ChunkBytes, FrameSize);
        }
        catch (OutOfMemoryException e)
        {
            throw new MachineMemoryExhaustedException(
                $"out of machine memory: the host refused {ChunkBytes >> 20} MiB more with {_inUse} frames in use", CapFrames, e);
        }
        _refCounts[_chunkCount] = new int[ChunkFrames];
        _generations[_chunkCount] = new uint[ChunkFrames];
        _chunkBases[_chunkCount] = (nint)chunk;
        Volatile.Write(ref _chunkCount, _chunkCount + 1);
    }

    private ref int RefCountSlot(uint mfn) => ref _refCounts[mfn >> ChunkShift]![mfn & ChunkMask];

    private void CheckAllocated(uint mfn)
    {
        if (mfn >= Volatile.Read(ref _nextUnused))
            ThrowNoSuchFrame(mfn);
    }

    /// <summary>"64 MiB", "12 KiB": a frame count as a size people read.</summary>
    internal static string FormatFrames(long frames)
    {
        long bytes = frames << FrameShift;
        return bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
    }

    private void ThrowPoolExhausted()
        => throw new MachineMemoryExhaustedException(
            $"out of machine memory: all {CapFrames} frames ({FormatFrames(CapFrames)}) of the machine memory pool are in use",
            CapFrames);

    private static void ThrowNotReferenced(Mfn mfn)
        => throw new InvalidOperationException($"{mfn} is not allocated: a reference was dropped twice or never taken");

    private static void ThrowNoSuchFrame(uint mfn)
        => throw new ArgumentOutOfRangeException(nameof(mfn), $"mfn 0x{mfn:x} was never allocated by this pool");
}

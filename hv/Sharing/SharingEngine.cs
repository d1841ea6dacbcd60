using System.Diagnostics;
using System.Runtime.CompilerServices;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// Content-based page sharing across guests, with copy-on-write.
/// </summary>
/// <remarks>
/// <para>
/// <b>Scanner.</b> The engine walks every guest frame of every guest in rounds, a bounded number of frames
/// per step. A frame on the zero frame, or already on a shared frame, is passed over. A private frame is
/// hashed with XxHash3 (<see cref="FrameHash"/>); if its checksum differs from the one the previous round
/// recorded, it is <i>volatile</i> (still being written) and only its new checksum is kept, as Linux KSM does, so that
/// frames that change all the time are not merged only to be broken at once.
/// </para>
/// <para>
/// <b>Candidates.</b> A frame whose checksum held still for a round is a candidate. An all-zero candidate
/// is mapped to the zero frame. Otherwise the <i>stable index</i> (checksum to the stable frames of that
/// checksum, per sharing domain) is searched first, then the <i>unstable index</i> of this round's
/// candidates, rebuilt every round. A match is merged only after a full byte comparison, never on the
/// checksum alone: frames whose checksums collide stay apart. The indexes, the promotions that wait and the
/// round's census of distinct contents are tables of the engine's own over plain arrays
/// (<see cref="FrameMultimap"/>, <see cref="ChecksumSet"/>), not the runtime's generic collections over the
/// engine's types: ReadyToRun compiles them ahead of time, and a lookup allocates nothing.
/// </para>
/// <para>
/// <b>Stable frames.</b> Merging two candidates makes the first one's machine frame a stable frame: the
/// P2M maps it read-only, and the second guest frame is repointed at it (its own frame goes back to the
/// pool). Later candidates join it the same way. The machine frame's reference count is its number of
/// sharers. Read-only in the P2M means read-only in every shadow, so any write to it is a hidden fault
/// that <see cref="GuestPhysicalMemory"/> resolves by copying the frame for that one guest frame (the
/// <i>break</i>); the engine hears of it through the P2M's backing-change event and drops that sharer.
/// When the last sharer leaves, the frame returns to the pool and leaves the index.
/// </para>
/// <para>
/// <b>Domains.</b> The policy decides which frames may meet: all guests share one domain, each guest is its
/// own, or each salt group is one. Frames of different domains never share a stable frame.
/// </para>
/// <para>
/// <b>When it runs.</b> <see cref="Step"/> remaps guest frames, so it must only run while every guest's CPU
/// is stopped (a global safepoint): the deterministic scheduler calls it between rounds at fixed
/// instruction counts, which makes a run with sharing replay bit for bit.
/// </para>
/// <para>
/// <b>Beside running guests.</b> In a parallel run (<see cref="BeginConcurrent"/>) scanner threads call
/// <see cref="ScanBatch"/> while the guests run. A checksum of a frame its guest is writing is only a hint,
/// and the scanner compares no bytes (a compare there would only be a hint too, and would read the partner,
/// a frame no cache holds, once more than needed): it never remaps anything. What it finds by checksum goes
/// as a <see cref="MergeRequest"/> to the guest that owns the frame, and that guest's own thread, between
/// two quanta with its CPU stopped (<see cref="ApplyRequests"/>), does KSM's steps: write-protect the frame
/// in the P2M (which shoots down its shadow and TLB entries: a guest frame is mapped by its own VM only, so
/// that is every mapping of it), compare the bytes, and repoint, or abandon the merge when the bytes differ
/// (the guest wrote the frame since it was hashed, or, never seen, two checksums collided). Making a
/// candidate a stable frame is one request to its guest (which hashes it again), and the partners' joining
/// it one request to each partner, checked against the now read-only stable frame.
/// So no write is ever lost and a guest only ever reads its frame's old content or the equal merged one.
/// The indexes and counters are the engine's, under one lock that the guests take only for a break of a
/// frame the engine merged, and between quanta when a request waits; a guest that finds a scanner holding it
/// then puts its requests off to a later quantum (at most <see cref="MaxDeferredApplies"/> in a row).
/// </para>
/// </remarks>
public sealed class SharingEngine
{
    /// <summary>The most frames one <see cref="ScanBatch"/> takes (all from one guest).</summary>
    public const int MaxBatch = 256;

    /// <summary>The most untouched frames one <see cref="ScanBatch"/> passes over before its batch: 64 KiB of P2M entries.</summary>
    public const int MaxSkip = 64 * MaxBatch;

    /// <summary>Quanta in a row a guest may put its merge requests off because a scanner held the lock, before it waits for the lock.</summary>
    public const int MaxDeferredApplies = 8;

    /// <summary>Frames <see cref="ScanBatch"/> hashes before it takes the lock to look them up (at most 64: one bit each in a mask).</summary>
    private const int ChunkFrames = 16;

    private readonly MachineMemory _machine;
    private readonly List<SharingGuest> _guests = new();
    private readonly List<StableFrame?> _stable = new();
    private readonly Stack<int> _freeStableIds = new();
    // The indexes are keyed by (domain, checksum): stable frame ids, and this round's candidates as guest frames
    // (FrameMultimap.FrameValue). The census counts the round's distinct contents, for the samples.
    private readonly FrameMultimap _stableIndex = new();
    private readonly FrameMultimap _unstableIndex = new();
    private readonly ChecksumSet _roundContents = new();
    private readonly ulong _zeroChecksum;
    private int _cursorGuest;
    private uint _cursorGfn;
    private long _roundVolatile;
    private long _roundPrivate;
    private bool _remapping;

    // Everything above, and every guest's flags and requests, changes under this lock.
    private readonly object _sync = new();
    private readonly Dictionary<GuestPhysicalMemory, SharingGuest> _byMemory = new();
    private bool _concurrent;

    // Candidates a guest was asked to make stable, keyed by (guest, gfn), with the frames found equal to them
    // meanwhile as values: those join the stable frame once it exists, so N equal frames make one stable frame, not N/2.
    private readonly FrameMultimap _promotions = new();

    // The same by content, across rounds, (domain, checksum) to the candidate: a promotion may wait longer than a
    // round, and equal frames seen meanwhile must join it rather than start a second stable frame of the same content.
    private readonly FrameMultimap _promotionByContent = new();
    private bool _roundEnded;
    private long _unlockedScanTicks;
    private long _roundFinds;

    public SharingEngine(MachineMemory machine, SharingPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _machine = machine;
        Policy = policy;
        _zeroChecksum = Hash(new byte[MachineMemory.FrameSize]);
    }

    public SharingPolicy Policy { get; }

    /// <summary>
    /// Raised at the end of every full scan: at the safepoint (no guest runs) when deterministic; in a parallel
    /// run on a scanner thread while the guests run, so a handler then sees memory as it moves.
    /// </summary>
    public event Action? RoundCompleted;

    /// <summary>Merges found in the last completed full scan (done at once, or requested of the guests in a parallel run).</summary>
    public long LastRoundFinds { get; private set; }

    public SharingStats Stats { get; } = new();

    /// <summary>One sample per completed full scan: how memory looked then.</summary>
    public List<SharingSample> Samples { get; } = new();

    /// <summary>For tests: replaces the frame hash, e.g. to force collisions between frames that differ.</summary>
    internal Func<ReadOnlySpan<byte>, ulong>? ChecksumOverride { get; set; }

    /// <summary>Frames of all guests, one full scan's worth.</summary>
    public long TotalFrames => _guests.Sum(g => (long)g.Frames);

    /// <summary>Adds a guest to be scanned. <paramref name="saltGroup"/> matters under <see cref="SharingPolicy.Salted"/>.</summary>
    public void Add(Vm vm, int saltGroup = 0)
    {
        ArgumentNullException.ThrowIfNull(vm);
        Add(vm.Memory, vm.Name, saltGroup, () => vm.Exit == null, () => vm.Instructions);
    }

    /// <summary>Adds a guest memory to be scanned while <paramref name="isRunning"/> says so.</summary>
    public void Add(GuestPhysicalMemory memory, string name, int saltGroup, Func<bool> isRunning, Func<long> instructions)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (memory.Machine != _machine)
            throw new ArgumentException("the guest's memory comes from another machine memory pool", nameof(memory));
        int domain = Policy switch
        {
            SharingPolicy.Guest => _guests.Count + 1,
            SharingPolicy.Salted => saltGroup,
            _ => 0,
        };
        var guest = new SharingGuest(memory, name, _guests.Count, domain, isRunning, instructions);
        _guests.Add(guest);
        _byMemory[memory] = guest;
        memory.BackingChanged += gfn => OnBackingChanged(guest, gfn);
        memory.Disposing += () => Retire(guest);
    }

    /// <summary>The engine's view of one guest: frames it keeps on stable or zero frames, and the breaks away from them.</summary>
    public (long FramesOnStable, long ZeroPages, long Breaks) GuestCounters(GuestPhysicalMemory memory)
    {
        SharingGuest g = _guests.First(x => x.Memory == memory);
        return (g.FramesOnStable, g.ZeroPages, g.Breaks);
    }

    /// <summary>The guest frames the engine has merged now: on a shared frame, or (zero true) put back on the zero frame.</summary>
    public IEnumerable<(uint Gfn, bool Zero)> MergedFrames(GuestPhysicalMemory memory)
    {
        SharingGuest g = _guests.First(x => x.Memory == memory);
        for (uint gfn = 0; gfn < g.Frames; gfn++)
        {
            byte flags = g.Flags[gfn];
            if ((flags & SharingGuest.OnStable) != 0)
                yield return (gfn, false);
            else if ((flags & SharingGuest.OnZero) != 0)
                yield return (gfn, true);
        }
    }

    /// <summary>
    /// Hashes up to <paramref name="frames"/> private guest frames from where the last step stopped, merging
    /// what it can; frames passed over (untouched, already shared) cost nothing, but no step goes further
    /// than one full round. Only at a global safepoint: no guest CPU may run meanwhile.
    /// </summary>
    public void Step(long frames)
    {
        if (Policy == SharingPolicy.Off || _guests.Count == 0 || frames <= 0)
            return;
        if (_concurrent)
            throw new InvalidOperationException("Step needs every guest stopped; while scanner threads run, use ScanBatch");
        lock (_sync)
            StepLocked(frames);
    }

    private void StepLocked(long frames)
    {
        var clock = Stopwatch.StartNew();
        long hashedBefore = Stats.FramesHashed;
        long total = TotalFrames;
        for (long visited = 0; visited < total && Stats.FramesHashed - hashedBefore < frames; visited++)
        {
            SharingGuest g = _guests[_cursorGuest];
            if (!g.Retired && _cursorGfn < g.Frames && g.IsRunning())
                Visit(g, _cursorGfn);
            Advance();
        }

        Stats.ScanTime += clock.Elapsed;
    }

    /// <summary>Scans from the cursor to the end of the current round, then one whole round more: every frame seen twice.</summary>
    public void ScanFully()
    {
        long rounds = Stats.FullScans;
        while (Stats.FullScans < rounds + 2 && _guests.Count > 0 && Policy != SharingPolicy.Off)
            Step(long.MaxValue);
    }

    // ---- Beside running guests -----------------------------------------------------------------

    /// <summary>From now on scanning is <see cref="ScanBatch"/> on scanner threads, and merges are requests done by <see cref="ApplyRequests"/>.</summary>
    public void BeginConcurrent()
    {
        lock (_sync)
            _concurrent = true;
    }

    /// <summary>The scanner threads have stopped: requests no guest will do any more are dropped, with their references.</summary>
    public void EndConcurrent()
    {
        lock (_sync)
        {
            foreach (SharingGuest g in _guests)
                DropRequests(g);
            Stats.ScanTime += Stopwatch.GetElapsedTime(0, Interlocked.Exchange(ref _unlockedScanTicks, 0));
            _concurrent = false;
        }
    }

    /// <summary>
    /// Scans up to <paramref name="frames"/> frames of one guest while the guests run, from the shared cursor or
    /// past the untouched frames that follow it (at most <see cref="MaxSkip"/>): hashes a few frames at a time
    /// without the lock, then takes it to look those up and request merges (so the lock is held briefly). The
    /// merges' byte compares are the guests' (<see cref="ApplyRequests"/>). Returns the frames hashed, the frames
    /// visited (passed over or hashed), and of those the untouched ones (never written, or of a guest that has
    /// stopped), which cost no more than reading their P2M entries.
    /// </summary>
    [SkipLocalsInit] // the two buffers are written before they are read, for the frames found backed
    public unsafe (int Hashed, int Visited, int Untouched) ScanBatch(int frames)
    {
        if (!_concurrent)
            throw new InvalidOperationException("ScanBatch is for scanner threads between BeginConcurrent and EndConcurrent");
        if (Policy == SharingPolicy.Off || _guests.Count == 0 || frames <= 0)
            return (0, 0, 0);
        frames = Math.Min(frames, MaxBatch);
        long start = Stopwatch.GetTimestamp();
        SharingGuest g;
        uint from, to;
        int skipped;
        bool live;
        lock (_sync)
        {
            g = _guests[_cursorGuest];
            live = !g.Retired && g.IsRunning();
            uint at = _cursorGfn;
            from = FirstBackedFrame(g, at, live);
            skipped = (int)(from - at);
            to = (uint)Math.Min(g.Frames, (long)from + frames);
            AdvancePast(to); // to the next guest's first frame at most: a batch never spans two guests
        }

        int visited = (int)Math.Max(1, to - from + skipped);
        uint[] entries = g.Memory.P2m.Entries;

        // Within the batch, the loops below start at the first frame that has a machine frame.
        int firstBacked = live && to > from ? entries.AsSpan((int)from, (int)(to - from)).IndexOfAnyExcept(0u) : -1;
        bool roundEnded = Volatile.Read(ref _roundEnded);
        if (firstBacked < 0 && !roundEnded)
        {
            // Nothing to look up, so no need for the lock the guests' breaks take.
            Interlocked.Add(ref _unlockedScanTicks, Stopwatch.GetTimestamp() - start);
            return (0, visited, visited);
        }

        uint first = firstBacked < 0 ? to : from + (uint)firstBacked;
        int untouched = skipped + (int)(first - from);
        int hashed = 0;
        Span<ulong> checksums = stackalloc ulong[ChunkFrames];
        Span<uint> hashedEntries = stackalloc uint[ChunkFrames];
        uint chunk = first;
        do
        {
            // A few frames hashed, then looked up at once: the lock is held briefly, and the zero check finds
            // each frame still in the cache.
            uint end = Math.Min(to, chunk + (uint)ChunkFrames);
            ulong unhashed = 0; // queued when hashing came to them: no checksum, even if done by the time of the look-up
            for (uint gfn = chunk; gfn < end; gfn++)
            {
                // One read of the entry: the P2M may change under us, and what we hash is only a hint.
                uint entry = Volatile.Read(ref entries[gfn]);
                hashedEntries[(int)(gfn - chunk)] = entry;
                if (entry == 0)
                    untouched++;
                if ((entry & P2m.WritableBit) == 0)
                {
                    if (g.Stable[gfn] >= 0)
                        _roundContents.Prefetch(g.Checksum[gfn]); // passed over, but counted in the census
                    continue;
                }

                if ((g.Flags[gfn] & SharingGuest.Queued) != 0)
                {
                    unhashed |= 1UL << (int)(gfn - chunk);
                    continue;
                }

                if (gfn + 1 < to)
                    PrefetchFrame(Volatile.Read(ref entries[gfn + 1]));
                ulong checksum = Hash(new ReadOnlySpan<byte>(_machine.FrameAddress(entry & P2m.MfnMask), MachineMemory.FrameSize));
                checksums[(int)(gfn - chunk)] = checksum;

                // The look-ups under the lock then find their slots in the cache: each is a random place in a big table.
                _roundContents.Prefetch(checksum);
                _stableIndex.Prefetch(g.Domain, checksum);
                _unstableIndex.Prefetch(g.Domain, checksum);
            }

            lock (_sync)
            {
                for (uint gfn = chunk; !g.Retired && gfn < end; gfn++)
                {
                    uint entry = hashedEntries[(int)(gfn - chunk)];
                    if ((entry & P2m.WritableBit) == 0)
                    {
                        PassOver(g, gfn);
                        continue;
                    }

                    // Queued, or remapped since it was hashed: next round.
                    if ((g.Flags[gfn] & SharingGuest.Queued) != 0 || (unhashed & (1UL << (int)(gfn - chunk))) != 0
                        || g.Memory.P2m.Entries[gfn] != entry)
                        continue;
                    var bytes = new ReadOnlySpan<byte>(_machine.FrameAddress(entry & P2m.MfnMask), MachineMemory.FrameSize);
                    Consider(g, gfn, bytes, checksums[(int)(gfn - chunk)]);
                    hashed++;
                }

                if (end == to)
                {
                    Stats.ScanTime += Stopwatch.GetElapsedTime(start) + Stopwatch.GetElapsedTime(0, Interlocked.Exchange(ref _unlockedScanTicks, 0));
                    roundEnded = _roundEnded;
                    _roundEnded = false;
                }
            }

            chunk = end;
        }
        while (chunk < to);

        if (roundEnded)
            RoundCompleted?.Invoke();
        return (hashed, visited, untouched);
    }

    /// <summary>
    /// Where a batch from <paramref name="at"/> should start: most frames of a guest are untouched (entry 0: on
    /// the zero frame, never written), and one vector search passes over a stretch of them (at most
    /// <see cref="MaxSkip"/> frames, to bound the lock's hold) rather than a batch each. A stopped guest's
    /// frames are all passed over so.
    /// </summary>
    private static uint FirstBackedFrame(SharingGuest g, uint at, bool live)
    {
        uint end = (uint)Math.Min(g.Frames, (long)at + MaxSkip);
        if (!live || at >= end)
            return end;
        int backed = g.Memory.P2m.Entries.AsSpan((int)at, (int)(end - at)).IndexOfAnyExcept(0u);
        return backed < 0 ? end : at + (uint)backed;
    }

    /// <summary>
    /// Asks the processor for the next frame to hash while it hashes this one: frames a guest got from the pool at
    /// different times lie anywhere in host memory, and the hardware's own prefetch stops at each 4 KiB page.
    /// </summary>
    private unsafe void PrefetchFrame(uint entry)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported || (entry & P2m.WritableBit) == 0)
            return;
        byte* frame = _machine.FrameAddress(entry & P2m.MfnMask);
        for (int line = 0; line < MachineMemory.FrameSize; line += 64)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(frame + line);
    }

    /// <summary>
    /// On <paramref name="memory"/>'s own thread, with its CPU stopped: does the merges the scanner asked of
    /// this guest, each checked again first (the frame may have been written since it was hashed).
    /// </summary>
    public void ApplyRequests(GuestPhysicalMemory memory)
    {
        if (!_byMemory.TryGetValue(memory, out SharingGuest? g) || g.Requests.Count == 0)
            return;
        long start = Stopwatch.GetTimestamp();

        // The requests can wait for a later quantum; the guest need not wait for the lock. A scanner thread the host
        // has descheduled while it holds the lock would otherwise stop this guest for the rest of the host's time
        // slice. A guest that found the lock taken too often in a row waits for it, so its requests are done.
        if (!Monitor.TryEnter(_sync))
        {
            if (++g.DeferredApplies < MaxDeferredApplies)
                return;
            Monitor.Enter(_sync);
        }

        try
        {
            g.DeferredApplies = 0;
            ReadOnlySpan<MergeRequest> requests = g.Requests.TakeAll();
            foreach (MergeRequest r in requests)
            {
                g.Flags[r.Gfn] &= unchecked((byte)~SharingGuest.Queued);
                if (!Apply(g, r))
                    Stats.MergesAbandoned++;
            }

            Stats.MergeStallTime += Stopwatch.GetElapsedTime(start);
        }
        finally
        {
            Monitor.Exit(_sync);
        }
    }

    private bool Apply(SharingGuest g, MergeRequest r)
    {
        P2m p2m = g.Memory.P2m;
        bool writable = !g.Retired && g.IsRunning() && p2m.IsWritable(r.Gfn);
        switch (r.Kind)
        {
            case MergeKind.Zero:
                if (!writable || FrameBytes(g, r.Gfn).IndexOfAnyExcept((byte)0) >= 0)
                    return false;
                MergeIntoZero(g, r.Gfn);
                return true;

            case MergeKind.Join:
            {
                StableFrame s = r.Into!;
                bool merged = writable && _stable[s.Id] == s && FrameBytes(g, r.Gfn).SequenceEqual(_machine.FrameBytes(s.Mfn));
                if (merged)
                    MergeInto(g, r.Gfn, s);
                _machine.Release(s.Mfn); // the request's reference
                return merged;
            }

            default:
            {
                ReadOnlySpan<long> partners = _promotions.CopyValues(g.Index, r.Gfn);
                _promotions.RemoveKey(g.Index, r.Gfn);
                ForgetPromotion(g, r);
                foreach (long partner in partners)
                {
                    var (pi, pgfn) = FrameMultimap.FrameOf(partner);
                    _guests[pi].Flags[pgfn] &= unchecked((byte)~SharingGuest.Queued);
                }

                if (!writable || Hash(FrameBytes(g, r.Gfn)) != r.Checksum)
                    return false;

                // Read-only from here (the remap shoots down this guest's mappings of it): the partners compare against fixed bytes.
                StableFrame s = Promote(g, r.Gfn, r.Checksum);
                foreach (long partner in partners)
                {
                    var (pi, pgfn) = FrameMultimap.FrameOf(partner);
                    SharingGuest pg = _guests[pi];
                    if (pg.Retired)
                        continue;
                    _machine.AddRef(s.Mfn);
                    Request(pg, new MergeRequest(MergeKind.Join, pgfn, s));
                }

                return true;
            }
        }
    }

    /// <summary>Queues a request for <paramref name="g"/>'s thread; the frame is passed over until it is done.</summary>
    private static void Request(SharingGuest g, MergeRequest r)
    {
        g.Flags[r.Gfn] |= SharingGuest.Queued;
        g.Requests.Add(r);
    }

    private void ForgetPromotion(SharingGuest g, MergeRequest r)
    {
        long candidate = FrameMultimap.FrameValue(g.Index, r.Gfn);
        if (_promotionByContent.TryGetFirst(g.Domain, r.Checksum, out long c) && c == candidate)
            _promotionByContent.Remove(g.Domain, r.Checksum, candidate);
    }

    private void DropRequests(SharingGuest g)
    {
        foreach (MergeRequest r in g.Requests.TakeAll())
        {
            if (r.Gfn < g.Frames)
                g.Flags[r.Gfn] &= unchecked((byte)~SharingGuest.Queued);
            if (r.Kind == MergeKind.Promote)
            {
                ForgetPromotion(g, r);
                foreach (long partner in _promotions.CopyValues(g.Index, r.Gfn))
                {
                    var (pi, pgfn) = FrameMultimap.FrameOf(partner);
                    _guests[pi].Flags[pgfn] &= unchecked((byte)~SharingGuest.Queued);
                }

                _promotions.RemoveKey(g.Index, r.Gfn);
            }

            if (r.Kind == MergeKind.Join)
                _machine.Release(r.Into!.Mfn);
        }

    }

    // ---- The scan -----------------------------------------------------------------------------

    private unsafe void Visit(SharingGuest g, uint gfn)
    {
        P2m p2m = g.Memory.P2m;
        if (p2m.IsZeroMapped(gfn) || !p2m.IsWritable(gfn))
        {
            PassOver(g, gfn);
            return; // untouched, engine-zeroed, or already shared
        }

        var bytes = new ReadOnlySpan<byte>(_machine.FrameAddress(p2m.GetMfn(gfn)), MachineMemory.FrameSize);
        Consider(g, gfn, bytes, Hash(bytes));
    }

    /// <summary>A frame not hashed this round (untouched, engine-zeroed or shared) still counts its content in the round's census.</summary>
    private void PassOver(SharingGuest g, uint gfn)
    {
        if (g.Stable[gfn] >= 0)
            _roundContents.Add(g.Checksum[gfn]); // the stable frame's checksum, kept beside the frame by Join
    }

    /// <summary>A private frame hashed to <paramref name="checksum"/>: volatile, or a candidate to merge if it held still.</summary>
    private void Consider(SharingGuest g, uint gfn, ReadOnlySpan<byte> bytes, ulong checksum)
    {
        Stats.FramesHashed++;
        _roundPrivate++;
        if ((g.Flags[gfn] & SharingGuest.HasChecksum) == 0 || g.Checksum[gfn] != checksum)
        {
            g.Checksum[gfn] = checksum;
            g.Flags[gfn] |= SharingGuest.HasChecksum;
            _roundVolatile++;
            _roundContents.Add(checksum);
            return;
        }

        if (checksum == _zeroChecksum && bytes.IndexOfAnyExcept((byte)0) < 0)
        {
            _roundFinds++;
            if (_concurrent)
                Request(g, new MergeRequest(MergeKind.Zero, gfn));
            else
                MergeIntoZero(g, gfn);
            return;
        }

        _roundContents.Add(checksum);
        int domain = g.Domain;

        // A lookup that merges returns at once: the tables change only then, so the slot walks stay valid.
        for (int slot = _stableIndex.First(domain, checksum); slot >= 0; slot = _stableIndex.Next(slot))
        {
            if (TryMergeIntoStable(g, gfn, bytes, (int)_stableIndex.ValueAt(slot)))
                return;
        }

        if (_concurrent && _promotionByContent.TryGetFirst(domain, checksum, out long promoted)
            && TryMergeWithCandidate(g, gfn, bytes, checksum, promoted))
            return;

        for (int slot = _unstableIndex.First(domain, checksum); slot >= 0; slot = _unstableIndex.Next(slot))
        {
            if (TryMergeWithCandidate(g, gfn, bytes, checksum, _unstableIndex.ValueAt(slot)))
                return;
        }

        _unstableIndex.Add(domain, checksum, FrameMultimap.FrameValue(g.Index, gfn));
    }

    private bool TryMergeIntoStable(SharingGuest g, uint gfn, ReadOnlySpan<byte> bytes, int id)
    {
        StableFrame s = _stable[id]!;
        if (_concurrent)
        {
            // The guest's thread compares the bytes when it joins (Apply), with the frame write-protected.
            _roundFinds++;
            _machine.AddRef(s.Mfn); // the request's reference, so the frame outlives a last sharer's break
            Request(g, new MergeRequest(MergeKind.Join, gfn, s));
            return true;
        }

        if (!bytes.SequenceEqual(_machine.FrameBytes(s.Mfn)))
        {
            Stats.HashCollisions++;
            return false;
        }

        _roundFinds++;
        MergeInto(g, gfn, s);
        return true;
    }

    /// <summary>
    /// Merges with a frame of this round's unstable index if their bytes are equal, making that frame a stable one;
    /// beside running guests, asks the two guests for it instead (their threads check the bytes).
    /// </summary>
    private bool TryMergeWithCandidate(SharingGuest g, uint gfn, ReadOnlySpan<byte> bytes, ulong checksum, long candidate)
    {
        var (cg, cgfn) = FrameMultimap.FrameOf(candidate);
        SharingGuest og = _guests[cg];

        // A queued candidate takes more partners only while its promotion waits (then it has partners already).
        bool promoting = (og.Flags[cgfn] & SharingGuest.Queued) != 0;
        if (candidate == FrameMultimap.FrameValue(g.Index, gfn) || !StillPrivate(og, cgfn)
            || (promoting && !_promotions.ContainsKey(cg, cgfn)))
            return false;
        // Beside running guests the candidate's own thread hashes it again before it becomes stable, and each
        // partner compares its bytes with it when it joins: a compare here would read the candidate once more.
        if (!_concurrent && !bytes.SequenceEqual(FrameBytes(og, cgfn)))
        {
            Stats.HashCollisions++;
            return false;
        }

        _roundFinds++;
        if (_concurrent)
        {
            // The candidate becomes stable on its own guest's thread, which then asks this frame (and any other
            // found equal meanwhile) to join it. It stays in the unstable index for those others to find.
            g.Flags[gfn] |= SharingGuest.Queued;
            if (!promoting)
            {
                _promotionByContent.TryAddFirst(g.Domain, checksum, candidate);
                Request(og, new MergeRequest(MergeKind.Promote, cgfn, Checksum: checksum));
            }

            _promotions.Add(cg, cgfn, FrameMultimap.FrameValue(g.Index, gfn));
            return true;
        }

        _unstableIndex.Remove(g.Domain, checksum, candidate);

        StableFrame s = Promote(og, cgfn, checksum);
        MergeInto(g, gfn, s);
        return true;
    }

    private void Advance() => MoveCursorTo(_cursorGfn + 1);

    /// <summary>The cursor past the frames before <paramref name="end"/> of its guest (at least one frame): at the guest's end, on to the next guest's first frame.</summary>
    private void AdvancePast(uint end) => MoveCursorTo(Math.Max(end, _cursorGfn + 1));

    private void MoveCursorTo(uint gfn)
    {
        _cursorGfn = gfn;
        if (gfn < _guests[_cursorGuest].Frames)
            return;
        _cursorGfn = 0;
        if (++_cursorGuest < _guests.Count)
            return;
        _cursorGuest = 0;
        EndRound();
    }

    private void EndRound()
    {
        Stats.FullScans++;
        Stats.PagesUnshared = _unstableIndex.Count;
        Stats.PagesVolatile = _roundVolatile;
        long metadata = _guests.Sum(g => g.MetadataBytes) + (_stable.Count * 48L) + (_unstableIndex.Count * 48L);
        Stats.GeneralProfit = Stats.BytesSaved - metadata;
        long inUse = _guests.Sum(g => g.Memory.PrivateFrames + g.Memory.ReadOnlyFrames + g.ZeroPages);
        int distinctContents = _roundContents.Count - (_roundContents.Contains(_zeroChecksum) ? 1 : 0);
        // A scan after every guest stopped saw no frame at all: not a sample of memory.
        if (_guests.Any(g => !g.Retired && g.IsRunning()))
            Samples.Add(new SharingSample(Stats.FullScans, _guests.Sum(g => g.Instructions()), _machine.FramesInUse, inUse,
            distinctContents, Stats.PagesShared, Stats.PagesSharing, Stats.ZeroPages, Stats.CowBreaks));
        _unstableIndex.Clear();
        _roundContents.Clear();
        _roundVolatile = 0;
        _roundPrivate = 0;
        LastRoundFinds = _roundFinds;
        _roundFinds = 0;
        if (_concurrent)
            _roundEnded = true; // raised by the scanner thread once it has let go of the lock
        else
            RoundCompleted?.Invoke();
    }

    // ---- Merging and breaking -----------------------------------------------------------------

    private void MergeIntoZero(SharingGuest g, uint gfn)
    {
        Remap(g, gfn, Mfn.Zero);
        g.Flags[gfn] = (byte)((g.Flags[gfn] | SharingGuest.OnZero) & ~SharingGuest.HasChecksum);
        g.ZeroPages++;
        Stats.ZeroPages++;
        Stats.ZeroMerges++;
    }

    /// <summary>Makes a guest's private frame a stable frame, with that guest frame as its first sharer.</summary>
    private StableFrame Promote(SharingGuest g, uint gfn, ulong checksum)
    {
        Mfn mfn = g.Memory.P2m.GetMfn(gfn);
        int id = _freeStableIds.Count > 0 ? _freeStableIds.Pop() : _stable.Count;
        var s = new StableFrame(id, mfn, checksum, g.Domain);
        if (id == _stable.Count)
            _stable.Add(s);
        else
            _stable[id] = s;
        _stableIndex.Add(g.Domain, checksum, id);

        // The P2M hands over one reference and drops the old one: the same frame, so take one first.
        _machine.AddRef(mfn);
        Remap(g, gfn, mfn);
        Join(g, gfn, s);
        Stats.PagesShared++;
        return s;
    }

    private void MergeInto(SharingGuest g, uint gfn, StableFrame s)
    {
        _machine.AddRef(s.Mfn);
        Remap(g, gfn, s.Mfn);
        Join(g, gfn, s);
        Stats.PagesSharing++;
        Stats.Merges++;
    }

    private static void Join(SharingGuest g, uint gfn, StableFrame s)
    {
        s.Sharers++;
        g.Stable[gfn] = s.Id;
        g.Checksum[gfn] = s.Checksum; // for the census, read in order with the frame rather than through the stable frame

        g.Flags[gfn] = (byte)((g.Flags[gfn] | SharingGuest.OnStable) & ~SharingGuest.HasChecksum);
        g.FramesOnStable++;
    }

    private void Remap(SharingGuest g, uint gfn, Mfn mfn)
    {
        _remapping = true;
        try
        {
            g.Memory.P2m.Remap(gfn, mfn, writable: false);
        }
        finally
        {
            _remapping = false;
        }
    }

    /// <summary>A guest frame got another machine frame: if the engine had put it on a stable or the zero frame, that sharing is over.</summary>
    private void OnBackingChanged(SharingGuest g, uint gfn)
    {
        // Beside running guests, most backing changes are first writes to frames the engine never merged: the
        // guest's own thread alone sets and clears OnStable and OnZero, so it may read them without the lock,
        // and such a frame has nothing to undo (a checksum left behind is only a hint). Not so when
        // deterministic, where the recorded checksum is dropped as it always was, for the same counters.
        if (Volatile.Read(ref _concurrent) && gfn < g.Frames && (g.Flags[gfn] & (SharingGuest.OnStable | SharingGuest.OnZero)) == 0)
            return;
        lock (_sync)
            FollowBackingChange(g, gfn);
    }

    private void FollowBackingChange(SharingGuest g, uint gfn)
    {
        if (_remapping || gfn >= g.Frames)
            return;
        byte flags = g.Flags[gfn];
        if ((flags & SharingGuest.OnStable) != 0)
        {
            Leave(g, gfn);
            // Swapped out (the overcommit reclaimer) or ballooned rather than written: it left the shared frame, but broke nothing.
            if (g.Memory.P2m.IsSwapped(gfn) || g.Memory.P2m.IsBallooned(gfn))
            {
                Stats.SwappedOutOfStable++;
            }
            else
            {
                Stats.CowBreaks++;
                g.Breaks++;
            }
        }

        if ((flags & SharingGuest.OnZero) != 0)
        {
            g.ZeroPages--;
            Stats.ZeroPages--;
            Stats.ZeroBreaks++;
            g.Breaks++;
        }

        g.Flags[gfn] &= SharingGuest.Queued; // a waiting request is checked again when it is done
    }

    private void Leave(SharingGuest g, uint gfn)
    {
        StableFrame s = _stable[g.Stable[gfn]]!;
        g.Stable[gfn] = -1;
        g.FramesOnStable--;
        if (--s.Sharers > 0)
        {
            Stats.PagesSharing--;
            return;
        }

        // The last sharer left: the P2M released the frame's last reference, so it must leave the index now.
        Stats.PagesShared--;
        _stableIndex.Remove(s.Domain, s.Checksum, s.Id);
        _stable[s.Id] = null;
        _freeStableIds.Push(s.Id);
    }

    /// <summary>The guest is going away (or has stopped): forget its frames, so no stable frame outlives its last sharer in the index.</summary>
    private void Retire(SharingGuest g)
    {
        lock (_sync)
            RetireLocked(g);
    }

    private void RetireLocked(SharingGuest g)
    {
        if (g.Retired)
            return;
        DropRequests(g);
        g.Retired = true;
        for (uint gfn = 0; gfn < g.Frames; gfn++)
        {
            if ((g.Flags[gfn] & SharingGuest.OnStable) != 0)
                Leave(g, gfn);
            if ((g.Flags[gfn] & SharingGuest.OnZero) != 0)
            {
                g.ZeroPages--;
                Stats.ZeroPages--;
            }

            g.Flags[gfn] = 0;
        }

        _unstableIndex.RemoveAll(c => FrameMultimap.FrameOf(c).Guest == g.Index);
    }

    private static bool StillPrivate(SharingGuest g, uint gfn)
        => !g.Retired && gfn < g.Frames && g.Memory.P2m.IsWritable(gfn);

    private unsafe ReadOnlySpan<byte> FrameBytes(SharingGuest g, uint gfn)
        => new(_machine.FrameAddress(g.Memory.P2m.GetMfn(gfn)), MachineMemory.FrameSize);

    private ulong Hash(ReadOnlySpan<byte> bytes) => ChecksumOverride?.Invoke(bytes) ?? FrameHash.Hash(bytes);
}

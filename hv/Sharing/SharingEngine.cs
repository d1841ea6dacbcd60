using System.Diagnostics;
using System.IO.Hashing;
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
/// hashed with XxHash3; if its checksum differs from the one the previous round recorded, it is
/// <i>volatile</i> (still being written) and only its new checksum is kept, as Linux KSM does, so that
/// frames that change all the time are not merged only to be broken at once.
/// </para>
/// <para>
/// <b>Candidates.</b> A frame whose checksum held still for a round is a candidate. An all-zero candidate
/// is mapped to the zero frame. Otherwise the <i>stable index</i> (checksum to the stable frames of that
/// checksum, per sharing domain) is searched first, then the <i>unstable index</i> of this round's
/// candidates, rebuilt every round. A match is merged only after a full byte comparison, never on the
/// checksum alone: frames whose checksums collide stay apart.
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
/// instruction counts, which makes a run with sharing replay bit for bit; the parallel scheduler pauses the
/// guests for it.
/// </para>
/// </remarks>
public sealed class SharingEngine
{
    private readonly MachineMemory _machine;
    private readonly List<SharingGuest> _guests = new();
    private readonly List<StableFrame?> _stable = new();
    private readonly Stack<int> _freeStableIds = new();
    private readonly ChecksumIndex<int> _stableIndex = new();
    private readonly ChecksumIndex<(int Guest, uint Gfn)> _unstableIndex = new();
    private readonly HashSet<ulong> _roundContents = new();
    private readonly ulong _zeroChecksum;
    private int _cursorGuest;
    private uint _cursorGfn;
    private long _roundVolatile;
    private long _roundPrivate;
    private bool _remapping;

    public SharingEngine(MachineMemory machine, SharingPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _machine = machine;
        Policy = policy;
        _zeroChecksum = Hash(new byte[MachineMemory.FrameSize]);
    }

    public SharingPolicy Policy { get; }

    /// <summary>Raised at the end of every full scan, still at the safepoint (no guest runs).</summary>
    public event Action? RoundCompleted;

    public SharingStats Stats { get; } = new();

    /// <summary>One sample per completed full scan: how memory looked then.</summary>
    public List<SharingSample> Samples { get; } = new();

    /// <summary>For tests: replaces XxHash3, e.g. to force collisions between frames that differ.</summary>
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

    // ---- The scan -----------------------------------------------------------------------------

    private unsafe void Visit(SharingGuest g, uint gfn)
    {
        P2m p2m = g.Memory.P2m;
        if (p2m.IsZeroMapped(gfn) || !p2m.IsWritable(gfn))
        {
            if (g.Stable[gfn] >= 0 && _stable[g.Stable[gfn]] is { } s)
                _roundContents.Add(s.Checksum);
            return; // untouched, engine-zeroed, or already shared
        }

        var bytes = new ReadOnlySpan<byte>(_machine.FrameAddress(p2m.GetMfn(gfn)), MachineMemory.FrameSize);
        ulong checksum = Hash(bytes);
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
            MergeIntoZero(g, gfn);
            return;
        }

        _roundContents.Add(checksum);
        var key = (g.Domain, checksum);
        if (_stableIndex.TryGet(key, out int firstId, out IReadOnlyList<int>? moreIds))
        {
            if (TryMergeIntoStable(g, gfn, bytes, firstId))
                return;
            for (int i = 0; moreIds != null && i < moreIds.Count; i++)
            {
                if (TryMergeIntoStable(g, gfn, bytes, moreIds[i]))
                    return;
            }
        }

        if (_unstableIndex.TryGet(key, out var first, out var more))
        {
            if (TryMergeWithCandidate(g, gfn, bytes, key, first))
                return;
            for (int i = 0; more != null && i < more.Count; i++)
            {
                if (TryMergeWithCandidate(g, gfn, bytes, key, more[i]))
                    return;
            }
        }

        _unstableIndex.Add(key, (g.Index, gfn));
    }

    private bool TryMergeIntoStable(SharingGuest g, uint gfn, ReadOnlySpan<byte> bytes, int id)
    {
        StableFrame s = _stable[id]!;
        if (bytes.SequenceEqual(_machine.FrameBytes(s.Mfn)))
        {
            MergeInto(g, gfn, s);
            return true;
        }

        Stats.HashCollisions++;
        return false;
    }

    /// <summary>Merges with a frame of this round's unstable index if their bytes are equal, making that frame a stable one.</summary>
    private bool TryMergeWithCandidate(SharingGuest g, uint gfn, ReadOnlySpan<byte> bytes, (int, ulong) key, (int Guest, uint Gfn) candidate)
    {
        SharingGuest og = _guests[candidate.Guest];
        if (!StillPrivate(og, candidate.Gfn))
            return false;
        if (!bytes.SequenceEqual(FrameBytes(og, candidate.Gfn)))
        {
            Stats.HashCollisions++;
            return false;
        }

        _unstableIndex.Remove(key, candidate);
        StableFrame s = Promote(og, candidate.Gfn, key.Item2);
        MergeInto(g, gfn, s);
        return true;
    }

    private void Advance()
    {
        if (++_cursorGfn < _guests[_cursorGuest].Frames)
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
        _roundContents.Remove(_zeroChecksum);
        // A scan after every guest stopped saw no frame at all: not a sample of memory.
        if (_guests.Any(g => !g.Retired && g.IsRunning()))
            Samples.Add(new SharingSample(Stats.FullScans, _guests.Sum(g => g.Instructions()), _machine.FramesInUse, inUse,
            _roundContents.Count, Stats.PagesShared, Stats.PagesSharing, Stats.ZeroPages, Stats.CowBreaks));
        _unstableIndex.Clear();
        _roundContents.Clear();
        _roundVolatile = 0;
        _roundPrivate = 0;
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
        _stableIndex.Add((g.Domain, checksum), id);

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
        if (_remapping || gfn >= g.Frames)
            return;
        byte flags = g.Flags[gfn];
        if ((flags & SharingGuest.OnStable) != 0)
        {
            Leave(g, gfn);
            Stats.CowBreaks++;
            g.Breaks++;
        }

        if ((flags & SharingGuest.OnZero) != 0)
        {
            g.ZeroPages--;
            Stats.ZeroPages--;
            Stats.ZeroBreaks++;
            g.Breaks++;
        }

        g.Flags[gfn] = 0;
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
        _stableIndex.Remove((s.Domain, s.Checksum), s.Id);
        _stable[s.Id] = null;
        _freeStableIds.Push(s.Id);
    }

    /// <summary>The guest is going away (or has stopped): forget its frames, so no stable frame outlives its last sharer in the index.</summary>
    private void Retire(SharingGuest g)
    {
        if (g.Retired)
            return;
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

        _unstableIndex.RemoveAll(c => c.Guest == g.Index);
    }

    private static bool StillPrivate(SharingGuest g, uint gfn)
        => !g.Retired && gfn < g.Frames && g.Memory.P2m.IsWritable(gfn);

    private unsafe ReadOnlySpan<byte> FrameBytes(SharingGuest g, uint gfn)
        => new(_machine.FrameAddress(g.Memory.P2m.GetMfn(gfn)), MachineMemory.FrameSize);

    private ulong Hash(ReadOnlySpan<byte> bytes) => ChecksumOverride?.Invoke(bytes) ?? XxHash3.HashToUInt64(bytes);
}

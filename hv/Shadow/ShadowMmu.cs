using System.Numerics;
using MiniHv.Cpu;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Shadow;

/// <summary>
/// One VM's shadow MMU: for each guest address space (keyed by CR3) a shadow table maps linear pages
/// straight to machine frames with the effective permissions, filled on demand from the architectural
/// walk and the P2M, and kept coherent with the guest's own tables.
/// </summary>
/// <remarks>
/// <para>
/// A TLB miss looks up the current space's shadow entry. An entry that permits the access answers at once;
/// anything else (no entry, a write through an entry that is not yet dirty, a frame that is shared or holds
/// a guest page table) walks the guest's tables with <see cref="PageWalker"/>, which faults exactly as
/// hardware does and sets Accessed and Dirty exactly when hardware would, and rebuilds the entry from the
/// walk. So the guest sees the architecture and nothing else.
/// </para>
/// <para>
/// Coherence: every guest frame a shadow was built from (page directories and tables, see
/// <see cref="GuestTableRegistry"/>) is write-protected in every shadow, for its own reason, apart from the
/// "the machine frame is shared" reason the P2M gives. A guest store to one is done for the guest and then
/// drops exactly the shadow entries derived from the entry it changed: a changed page-table entry drops the
/// pages that came from it in every space whose slot uses that table; a changed directory entry drops that
/// whole 4 MiB slot. A frame that is a directory and a table at once (the UVPT self-map) is both. A table
/// written again and again with no walk going through it is being recycled: after
/// <see cref="FloodWrites"/> such stores its shadows are dropped and it is no longer protected.
/// </para>
/// <para>
/// Backing changes (a zero-frame break, a merge, a copy-on-write break) shoot down, through the reverse
/// map, every entry that maps the gfn whose machine frame changed. A page beyond RAM (a device window such as
/// the local APIC's) is shadowed too, with no machine frame, so kernels that read the APIC after every CR3
/// switch find it without a walk. Shadows survive CR3 switches in a cache
/// of <see cref="CachedSpaces"/> address spaces, least recently used dropped. INVLPG drops the page's
/// entry; turning paging off or changing CR4.PSE, CR4.PAE or (under PAE) EFER.NXE drops every shadow.
/// </para>
/// <para>
/// PAE guests are shadowed in the same flat map of linear pages (see <see cref="ShadowSpace"/>): a space is keyed by
/// its PDPT's address, its four page directories and its page tables are protected like two-level ones, and its
/// entries carry the execute-disable bit, so a fetch from such a page walks and faults. The PDPTEs are registers
/// that only a load changes, so instead of protecting the PDPT the MMU compares them with the space's at every load.
/// </para>
/// <para>
/// Since every space stays coherent on its own, a CR3 load does not empty the CPU's TLB: the most recently used
/// spaces each own one of the CPU's tagged TLB sets (<see cref="Cpu.Cpu.TlbSets"/>), and whatever drops a shadow
/// entry drops it from its space's set too. A switch to a space with a set costs a dictionary look-up.
/// </para>
/// <para>
/// A multiprocessor guest's processors share the shadows (one address space shadowed once, whichever CPU runs
/// in it), each with its own current space and TLB sets: <see cref="AddProcessor"/> adds one, and the machine
/// calls <see cref="Activate"/> before it runs another. Dropping an entry drops it from every processor's TLB, so a
/// hypervisor shootdown reaches them all at once. A processor that runs with paging off stores to guest tables
/// untracked, so once one has, every shadow is dropped before a processor with paging on runs again.
/// </para>
/// </remarks>
public sealed unsafe partial class ShadowMmu : IMmu
{
    /// <summary>
    /// Address spaces whose shadows are kept across CR3 switches: enough for the environments of a busy teaching
    /// kernel (a primes pipeline of 288), since a cache smaller than the set a scheduler cycles through misses at
    /// every switch. An idle space costs 12 KiB plus 4 KiB per 4 MiB slot it shadows.
    /// </summary>
    public const int CachedSpaces = 512;

    /// <summary>Stores to a guest table without a walk through it after which it counts as recycled memory.</summary>
    public const int FloodWrites = 16;

    /// <summary>The most processors one MMU serves.</summary>
    public const int MaxProcessors = 16;

    private readonly List<ProcessorView> _views = new();
    private ProcessorView _view;
    private bool _untrackedStores;
    private readonly GuestPhysicalMemory _memory;
    private readonly MachineMemory _machine;
    private readonly P2m _p2m;
    private readonly uint _frames;
    private readonly ShadowEntryTable _entries;
    private readonly GuestTableRegistry _tables;
    // Space objects by id, created when first needed and reused; the live ones by directory frame.
    private readonly ShadowSpace?[] _spaces;
    private readonly Stack<int> _freeIds = new();
    private readonly Dictionary<uint, ShadowSpace> _byDirectory = new();

    // Slot arrays of dropped slots, all zero, for the next slot shadowed.
    private readonly Stack<int[]> _freeSlots = new();

    // Users of a guest table, copied before dropping their entries changes the lists.
    private readonly List<ShadowSpace> _directoryUsers = new();
    private readonly List<(ShadowSpace Space, int Slot)> _tableUsers = new();
    private readonly HashSet<uint> _directoriesSeen = new();

    // Directory frames whose shadow was dropped because the guest recycled the frame: the next load there
    // is a new address space, not a revisit.
    private readonly HashSet<uint> _recycledDirectories = new();
    private long _clock;

    // The paging mode every shadow was built under (ModeOf): a change means entries mean something else.
    private int _mode;

    /// <param name="cachedSpaces">How many address spaces to keep (<see cref="CachedSpaces"/> unless a test wants few).</param>
    public ShadowMmu(Cpu.Cpu cpu, GuestPhysicalMemory memory, int cachedSpaces = CachedSpaces)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfLessThan(cachedSpaces, 1);
        _spaces = new ShadowSpace?[cachedSpaces];
        _directoryOfSpace = new uint[cachedSpaces];
        Array.Fill(_directoryOfSpace, NoDirectory);
        for (int id = cachedSpaces - 1; id >= 0; id--)
            _freeIds.Push(id);
        _view = new ProcessorView(cpu, 0);
        _views.Add(_view);
        _memory = memory;
        _machine = memory.Machine;
        _p2m = memory.P2m;
        _frames = memory.FrameCount;
        _entries = new ShadowEntryTable(_frames);
        _tables = new GuestTableRegistry(_frames);
        _mode = ModeOf(cpu);
        memory.BackingChanged += OnBackingChanged;
    }

    public ShadowStats Stats { get; } = new();

    /// <summary>Serve another processor of the same guest; returns its index for <see cref="Activate"/>.</summary>
    public int AddProcessor(Cpu.Cpu cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (_views.Count == MaxProcessors)
            throw new InvalidOperationException($"a shadow MMU serves at most {MaxProcessors} processors");
        var view = new ProcessorView(cpu, _views.Count);
        _views.Add(view);
        return view.Index;
    }

    /// <summary>Processor <paramref name="index"/> runs next: translations and CR3 switches are its own until another is activated.</summary>
    public void Activate(int index)
    {
        ProcessorView view = _views[index];
        _view = view;
        if (!view.Processor.PagingEnabled)
        {
            _untrackedStores = true;
            return;
        }

        if (_untrackedStores || ModeOf(view.Processor) != _mode)
            ForgetEverything();
        else if (view.Current is { Pae: true } current)
            SyncPdptes(current); // another processor may have rebuilt it from PDPTEs loaded since
    }

    /// <summary>
    /// What decides the meaning of the guest's entries besides CR3: CR4.PSE (4 MiB pages), CR4.PAE (the format) and,
    /// with PAE, EFER.NXE (bit 63). Shadows built under one mode are dropped when it changes.
    /// </summary>
    private static int ModeOf(Cpu.Cpu cpu)
        => ((cpu.Cr4 & Cpu.Cpu.CR4_PSE) != 0 ? 1 : 0) | ((cpu.Cr4 & Cpu.Cpu.CR4_PAE) != 0 ? 2 : 0) | (cpu.NoExecuteEnabled ? 4 : 0);

    /// <summary>
    /// A hidden fault the shadow resolved: a guest store to one of its page tables, or a write that found the
    /// guest PTE not yet dirty. With the guest frame and the linear address of the access.
    /// </summary>
    public event Action<ShadowFault, uint, uint>? HiddenFault;

    /// <summary>Shadow entries in all cached spaces.</summary>
    public int EntryCount => _entries.Count;

    /// <summary>Address spaces whose shadows are cached now.</summary>
    public int SpaceCount => _byDirectory.Count;

    /// <summary>
    /// The page-directory frames of the address spaces whose shadows are cached now. Safe to read from another thread
    /// (the sharing scanner's attribution in a parallel run): read from a table by space id whose words the guest's
    /// thread writes one at a time, so a reader sees each space either before or after a change, never a torn list.
    /// </summary>
    public IReadOnlyList<uint> CachedDirectories
    {
        get
        {
            var directories = new List<uint>();
            foreach (ref uint d in _directoryOfSpace.AsSpan())
            {
                uint gfn = Volatile.Read(ref d);
                if (gfn != NoDirectory)
                    directories.Add(gfn);
            }

            return directories;
        }
    }

    private const uint NoDirectory = uint.MaxValue;

    // By space id: the directory frame of each live space, or NoDirectory. Written by the guest's thread at every
    // creation and drop (not at switches), in O(1): a guest cycling through more spaces than the cache holds does that
    // thousands of times a second.
    private readonly uint[] _directoryOfSpace;

    private void PublishDirectory(ShadowSpace space) => Volatile.Write(ref _directoryOfSpace[space.Id], space.Live ? space.DirectoryGfn : NoDirectory);

    /// <inheritdoc/>
    public bool TagsTlbByAddressSpace => true;

    /// <summary>True while some shadow was built from guest frame <paramref name="gfn"/> (so guest stores to it are tracked).</summary>
    public bool IsGuestTable(uint gfn) => _tables.IsTracked(gfn);

    /// <summary>Every (CR3 page, linear page) whose shadow entry maps guest frame <paramref name="gfn"/>, from the reverse map.</summary>
    public IReadOnlyList<(uint DirectoryGfn, uint LinearPage)> MappingsOf(uint gfn)
    {
        var result = new List<(uint, uint)>();
        if (gfn >= _frames)
            return result;
        for (int e = _entries.FirstMapping(gfn); e != 0; e = _entries.NextMapping(e))
            result.Add((_spaces[_entries.Space(e)]!.DirectoryGfn, _entries.LinearPage(e)));
        return result;
    }

    // ---- IMmu --------------------------------------------------------------------------------

    public bool Translate(uint linear, AccessKind access, out Translation translation, out int pageFaultError)
    {
        ShadowSpace space = _view.Current ?? SelectCurrent(countSwitch: false);
        uint lp = linear >> 12;
        int[]? slot = space.Entries[lp >> 10];
        if (slot != null)
        {
            int e = slot[lp & (ShadowSpace.PagesPerSlot - 1)];
            byte flags;
            if (e != 0 && Permits(flags = _entries.Flags(e), access))
            {
                if ((flags & ShadowEntryTable.Accessed) == 0)
                    _entries.SetFlags(e, (byte)(flags | ShadowEntryTable.Accessed));
                uint mfn = _entries.Mfn(e);
                translation = default;
                translation.PhysicalPage = _entries.Gfn(e) << 12;
                translation.Host = mfn == ShadowEntryTable.NoFrame ? null : _machine.FrameAddress(new Mfn(mfn));
                translation.Cacheable = true;
                pageFaultError = 0;
                return true;
            }
        }

        return Miss(space, linear, access, out translation, out pageFaultError);
    }

    public void WriteCompleted(uint linear, uint physical, int size)
    {
        uint gfn = physical >> 12;
        GuestTableRegistry.GuestTable? table = _tables.Get(gfn);
        if (table == null)
            return;
        Stats.PageTableWrites++;
        HiddenFault?.Invoke(ShadowFault.PageTableWrite, gfn, linear);
        if (++table.WritesSinceUse > FloodWrites)
        {
            Unshadow(table);
            return;
        }

        uint offset = physical & 0xFFF, end = Math.Min(offset + (uint)size - 1, 0xFFF);
        _directoryUsers.Clear();
        _directoryUsers.AddRange(table.AsDirectory);
        _tableUsers.Clear();
        _tableUsers.AddRange(table.AsTable);
        foreach (ShadowSpace space in _directoryUsers)
        {
            if (space.Pae)
                DirectoryStorePae(space, gfn, offset, end);
            else
                for (uint index = offset >> 2; index <= end >> 2; index++)
                    DropSlot(space, (int)index);
        }

        foreach ((ShadowSpace space, int slot) in _tableUsers)
        {
            if (space.Pae)
            {
                TableStorePae(space, slot, gfn, offset, end);
                continue;
            }

            for (uint index = offset >> 2; index <= end >> 2; index++)
            {
                // The space's TLB set may hold the page without a shadow entry (kept from another space: UseTlbSetOf).
                uint lp = ((uint)slot << 10) | index;
                if (!DropEntry(space, lp))
                    FlushFromTlbs(space, lp);
            }
        }
    }

    /// <summary>A store to bytes [offset, end] of PAE page directory <paramref name="gfn"/>: drop the 4 MiB slots its changed 8-byte entries map (a slot holds two).</summary>
    private void DirectoryStorePae(ShadowSpace space, uint gfn, uint offset, uint end)
    {
        for (int quarter = 0; quarter < 4; quarter++)
        {
            if (DirectoryOf(space.Pdptes[quarter]) != gfn)
                continue;
            for (uint index = offset >> 3; index <= end >> 3; index++)
                DropSlot(space, (quarter << 8) | (int)(index >> 1));
        }
    }

    /// <summary>A store to bytes [offset, end] of PAE page table <paramref name="gfn"/> behind <paramref name="slot"/>: drop the pages its changed entries map.</summary>
    private void TableStorePae(ShadowSpace space, int slot, uint gfn, uint offset, uint end)
    {
        for (uint index = offset >> 3; index <= end >> 3; index++)
        {
            if (space.TableGfn[slot] == gfn)
                DropEntry(space, ((uint)slot << 10) | index);
            if (space.HighTableGfn[slot] == gfn)
                DropEntry(space, ((uint)slot << 10) | 512 | index);
        }
    }

    /// <summary>The page-directory frame a PDPTE names, or <see cref="ShadowSpace.NoTable"/> when it is not present.</summary>
    private static uint DirectoryOf(ulong pdpte)
        => (pdpte & PageWalker.P) == 0 ? ShadowSpace.NoTable : (uint)Math.Min((pdpte & PaePageWalker.AddressMask) >> 12, ShadowSpace.NoTable - 1);

    public void PagingChanged(PagingChange change)
    {
        bool paging = _view.Processor.PagingEnabled;
        if (!paging || ModeOf(_view.Processor) != _mode || _untrackedStores)
        {
            // With paging off, stores to guest tables bypass the MMU; with PSE, PAE or NXE changed, entries
            // mean something else. Either way no shadow can be trusted.
            ForgetEverything();
            _untrackedStores = !paging && _views.Count > 1;
            return;
        }

        if (change == PagingChange.Cr3Loaded)
            SelectCurrent(countSwitch: true);
        else if (_view.Current is { Pae: true } current)
            SyncPdptes(current); // a MOV to CR0 or CR4 may have reloaded the PDPTEs
    }

    public void InvalidatePage(uint linear)
    {
        if (_view.Current != null && DropEntry(_view.Current, linear >> 12))
            Stats.InvlpgDrops++;
    }

    // ---- Misses ------------------------------------------------------------------------------

    private bool Permits(byte flags, AccessKind access)
    {
        bool user = (access & AccessKind.User) != 0;
        if (user && (flags & ShadowEntryTable.User) == 0)
            return false;
        if ((access & AccessKind.Write) == 0)
            return (access & AccessKind.Fetch) == 0 || (flags & ShadowEntryTable.NoExecute) == 0;
        if ((flags & ShadowEntryTable.Direct) == 0)
            return false;
        return (flags & ShadowEntryTable.Writable) != 0 || (!user && (_view.Processor.Cr0 & Cpu.Cpu.CR0_WP) == 0);
    }

    /// <summary>Walk the guest's tables, then build or refresh the shadow entry from the walk.</summary>
    private bool Miss(ShadowSpace space, uint linear, AccessKind access, out Translation translation, out int pageFaultError)
    {
        translation = default;
        uint lp = linear >> 12;
        int slotIndex = (int)(lp >> 10);
        bool ok = _view.Processor.WalkPageTables(_memory, linear, access, out WalkRecord walk);
        _tables.MarkUsed(space.Pae ? DirectoryOf(space.Pdptes[linear >> 30]) : space.DirectoryGfn);
        if (!ok)
        {
            pageFaultError = walk.ErrorCode;
            if ((walk.ErrorCode & PageWalker.ErrPresent) == 0)
                DropEntry(space, lp); // never needed while shadows are coherent, but never wrong either
            return false;
        }

        pageFaultError = 0;
        translation.PhysicalPage = walk.PhysicalPage;
        if (walk.BeyondFourGiB)
            return true; // a PAE page above 4 GiB: nothing is there, and nothing is kept
        BindSlot(space, slotIndex, (int)((lp >> 9) & 1), walk.Large ? ShadowSpace.LargePage : walk.Pde >> 12, (byte)(walk.Pde & SlotDirectoryBits));
        uint gfn = walk.PhysicalPage >> 12;
        translation.Cacheable = true;
        if (gfn >= _frames)
        {
            ShadowDevicePage(space, slotIndex, lp, gfn, walk);
            return true; // no host frame: accesses go to the unbacked handlers
        }

        // A write may break the frame away from the zero frame or a shared one first; that shoots down
        // the old entries of this gfn, this page's included.
        bool write = (access & AccessKind.Write) != 0;
        translation.Host = write ? _memory.FrameForWrite(gfn) : _memory.FrameForRead(gfn);
        bool isTable = _tables.IsTracked(gfn);
        byte flags = (byte)((walk.User ? ShadowEntryTable.User : 0)
            | (walk.Writable ? ShadowEntryTable.Writable : 0)
            | (walk.Dirty ? ShadowEntryTable.Dirty : 0)
            | (walk.NoExecute ? ShadowEntryTable.NoExecute : 0)
            | ShadowEntryTable.Accessed);
        if (walk.Dirty && !isTable && _p2m.IsWritable(gfn))
            flags |= ShadowEntryTable.Direct;

        int[] slot = SlotOf(space, slotIndex);
        int index = (int)(lp & (ShadowSpace.PagesPerSlot - 1));
        int e = slot[index];
        if (e != 0 && _entries.Gfn(e) == gfn)
        {
            if (write && (_entries.Flags(e) & ShadowEntryTable.Dirty) == 0)
            {
                Stats.AdUpdates++;
                HiddenFault?.Invoke(ShadowFault.DirtyUpdate, gfn, linear);
            }
            _entries.SetFlags(e, flags);
        }
        else
        {
            if (e != 0)
                RemoveEntry(space, e);
            slot[index] = _entries.Add(space.Id, lp, gfn, _p2m.GetMfn(gfn).Value, flags);
            space.EntryCount++;
            space.EntryBits[slotIndex]![index >> 6] |= 1ul << index;
            Stats.ShadowFills++;
        }

        if (write && isTable)
        {
            // The store goes through this once, then the shadows derived from what it changed are dropped.
            translation.Cacheable = false;
            translation.NotifyWrite = true;
        }

        return true;
    }

    /// <summary>
    /// A page beyond RAM (a device window such as the local APIC's): its entry has no machine frame, so a hit
    /// answers without a walk and the CPU goes to the device. Writes go straight through once the guest PTE is
    /// dirty; there is no frame to protect. The guest table it came from is tracked like any other, so a change
    /// of the PTE drops it.
    /// </summary>
    private void ShadowDevicePage(ShadowSpace space, int slotIndex, uint lp, uint gfn, in WalkRecord walk)
    {
        byte flags = (byte)((walk.User ? ShadowEntryTable.User : 0)
            | (walk.Writable ? ShadowEntryTable.Writable : 0)
            | (walk.Dirty ? ShadowEntryTable.Dirty | ShadowEntryTable.Direct : 0)
            | (walk.NoExecute ? ShadowEntryTable.NoExecute : 0));
        int[] slot = SlotOf(space, slotIndex);
        int index = (int)(lp & (ShadowSpace.PagesPerSlot - 1));
        int e = slot[index];
        if (e != 0 && _entries.Gfn(e) == gfn)
        {
            _entries.SetFlags(e, flags);
            return;
        }

        if (e != 0)
            RemoveEntry(space, e);
        slot[index] = _entries.Add(space.Id, lp, gfn, ShadowEntryTable.NoFrame, flags);
        space.EntryCount++;
        space.EntryBits[slotIndex]![index >> 6] |= 1ul << index;
        Stats.ShadowFills++;
    }

    /// <summary>
    /// Make <paramref name="tableGfn"/> (or a large page) the source of a slot's entries, dropping entries built from
    /// another. A PAE slot has two halves (<paramref name="half"/>), each from its own table; a change of either drops both.
    /// </summary>
    private void BindSlot(ShadowSpace space, int slotIndex, int half, uint tableGfn, byte directoryBits)
    {
        uint[] tables = space.Pae && half != 0 ? space.HighTableGfn : space.TableGfn;
        uint old = tables[slotIndex];
        if (old == tableGfn)
        {
            if (tableGfn != ShadowSpace.LargePage)
                _tables.MarkUsed(tableGfn);
            return;
        }

        if (old != ShadowSpace.NoTable)
            DropSlot(space, slotIndex);
        tables[slotIndex] = tableGfn;
        space.DirectoryBits[slotIndex] = directoryBits; // the entry's bits stay while the slot is bound: a store to it drops the slot
        space.MarkSlotInUse(slotIndex);
        if (tableGfn != ShadowSpace.LargePage && _tables.AddTable(tableGfn, space, slotIndex))
            Protect(tableGfn);
    }

    /// <summary>A frame has just become a guest table: no shadow entry may let the guest write it directly any more.</summary>
    private void Protect(uint gfn)
    {
        for (int e = _entries.FirstMapping(gfn); e != 0; e = _entries.NextMapping(e))
            _entries.SetFlags(e, (byte)(_entries.Flags(e) & ~ShadowEntryTable.Direct));
        foreach (ProcessorView view in _views)
            view.Processor.FlushTlbFrame(gfn);
    }

    // ---- Address spaces ----------------------------------------------------------------------

    private ShadowSpace SelectCurrent(bool countSwitch)
    {
        Cpu.Cpu cpu = _view.Processor;
        bool pae = (cpu.Cr4 & Cpu.Cpu.CR4_PAE) != 0;
        uint root = cpu.Cr3 >> 12;
        uint key = pae ? cpu.Cr3 & 0xFFFF_FFE0 : root;
        if (_byDirectory.TryGetValue(key, out ShadowSpace? space))
        {
            if (countSwitch)
                Stats.Cr3SwitchHits++;
        }
        else
        {
            space = CreateSpace(root, key, pae);
        }

        if (pae)
            SyncPdptes(space);

        if (countSwitch)
        {
            Stats.Cr3Switches++;

            // A space loaded before is neither new nor recycled (recycling drops it), so only its first load asks.
            if (!space.Loaded)
            {
                space.Loaded = true;
                if (_directoriesSeen.Add(key) | _recycledDirectories.Remove(key))
                    Stats.Cr3FirstVisits++;
            }
        }

        space.LastUsed = ++_clock;
        _view.Current = space;
        UseTlbSetOf(space);
        return space;
    }

    // The R/W and U/S bits of a directory entry: with the table it names, all a 4 KiB page's translation takes from it.
    private const uint SlotDirectoryBits = PageWalker.RW | PageWalker.US;

    // The slots FlushTlbSetExceptSlots keeps, one bit each, rebuilt at each hand-over of a set.
    private readonly ulong[] _keptSlots = new ulong[ShadowSpace.SlotCount / 64];

    /// <summary>
    /// Give <paramref name="space"/> a tagged TLB set of the active processor, the least recently used one if need be,
    /// and make it current. The set keeps its entries of slots that translate alike in its previous owner and
    /// <paramref name="space"/> (see <see cref="FindSlotsTranslatedAlike"/>): the kernel half most guests map into
    /// every space, which would otherwise be filled again at nearly every switch among more spaces than sets.
    /// </summary>
    private void UseTlbSetOf(ShadowSpace space)
    {
        ShadowSpace?[] owners = _view.TlbOwners;
        int index = _view.Index;
        int set = space.TlbSets[index];
        if (set < 0)
        {
            set = 0;
            for (int i = 0; i < owners.Length; i++)
            {
                if (owners[i] == null)
                {
                    set = i;
                    break;
                }

                if (owners[i]!.LastUsed < owners[set]!.LastUsed)
                    set = i;
            }

            ShadowSpace? previous = owners[set];
            if (previous != null)
                previous.TlbSets[index] = -1;
            owners[set] = space;
            space.TlbSets[index] = set;
            if (previous != null && FindSlotsTranslatedAlike(previous, space, _view.Processor.SlotsInTlbSet(set), _keptSlots))
                _view.Processor.FlushTlbSetExceptSlots(set, _keptSlots);
            else
                _view.Processor.FlushTlbSet(set);
        }

        _view.Processor.UseTlbSet(set);
    }

    /// <summary>
    /// Set in <paramref name="alike"/> the slots (of those the set holds entries in, <paramref name="inSet"/>) where
    /// <paramref name="from"/>'s TLB entries are right for
    /// <paramref name="to"/> too: both bound to the same guest page table through directory entries with the same R/W and
    /// U/S bits. A walk through <paramref name="to"/> would then give each such entry's translation and change nothing the
    /// guest can see: its directory entry is accessed (the bind walked it, and a store clearing the bit drops the slot),
    /// and the table's entries are shared, so their accessed and dirty bits are the ones the entry was filled under. Such
    /// an entry may have no shadow entry in <paramref name="to"/>, so whatever changes the slot flushes the TLB without
    /// one: a store to the table (<see cref="WriteCompleted"/>), or the slot dropped while bound (<see cref="DropSlot"/>).
    /// PAE spaces and 4 MiB pages (whose dirty bit is each directory's own) keep nothing. False when no slot is alike.
    /// </summary>
    private static bool FindSlotsTranslatedAlike(ShadowSpace from, ShadowSpace to, ReadOnlySpan<ulong> inSet, ulong[] alike)
    {
        Array.Clear(alike);
        if (from.Pae || to.Pae)
            return false;
        bool any = false;
        for (int word = 0; word < alike.Length; word++)
        {
            for (ulong w = inSet[word] & from.SlotsInUse[word] & to.SlotsInUse[word]; w != 0; w &= w - 1)
            {
                int slot = (word << 6) | BitOperations.TrailingZeroCount(w);
                uint table = to.TableGfn[slot];
                if (table == from.TableGfn[slot] && table != ShadowSpace.NoTable && table != ShadowSpace.LargePage
                    && to.DirectoryBits[slot] == from.DirectoryBits[slot])
                {
                    alike[word] |= 1ul << slot;
                    any = true;
                }
            }
        }

        return any;
    }

    /// <summary>
    /// A PAE space must be built from the PDPTE registers the processor holds now. A PDPT change reaches them only at a
    /// load (CR3, or CR0/CR4 bits), so the PDPT frame itself is not write-protected: each load compares the registers
    /// with the space's, and a quarter whose PDPTE differs is dropped and its new page directory protected.
    /// </summary>
    private void SyncPdptes(ShadowSpace space)
    {
        for (int quarter = 0; quarter < 4; quarter++)
        {
            ulong now = _view.Processor.Pdpte(quarter);
            if ((now & PageWalker.P) == 0)
                now = 0;
            ulong before = space.Pdptes[quarter];
            if (now == before)
                continue;
            for (int slot = quarter << 8; slot < (quarter + 1) << 8; slot++)
            {
                if (SlotInUse(space, slot))
                    DropSlot(space, slot);
            }

            if (before != 0)
                _tables.RemoveDirectory(DirectoryOf(before), space);
            space.Pdptes[quarter] = now;
            if (now != 0 && _tables.AddDirectory(DirectoryOf(now), space))
                Protect(DirectoryOf(now));
        }
    }

    private static bool SlotInUse(ShadowSpace space, int slot) => (space.SlotsInUse[slot >> 6] & (1ul << slot)) != 0;

    private ShadowSpace CreateSpace(uint root, uint key, bool pae)
    {
        if (_freeIds.Count == 0)
        {
            ShadowSpace? oldest = null;
            foreach (ShadowSpace? s in _spaces)
            {
                if (s is { Live: true } && (oldest == null || s.LastUsed < oldest.LastUsed))
                    oldest = s;
            }

            DropSpace(oldest!);
        }

        int id = _freeIds.Pop();
        ShadowSpace space = _spaces[id] ??= new ShadowSpace(id);
        space.DirectoryGfn = root;
        space.Key = key;
        space.Pae = pae;
        space.Live = true;
        space.Loaded = false;
        _byDirectory.Add(key, space);
        PublishDirectory(space);
        if (!pae && _tables.AddDirectory(root, space))
            Protect(root); // a PAE space protects its page directories as it loads its PDPTEs

        Stats.ShadowsCreated++;
        return space;
    }

    private void DropSpace(ShadowSpace space)
    {
        ulong[] inUse = space.SlotsInUse;
        for (int word = 0; word < inUse.Length; word++)
        {
            // DropSlot clears the slot's bit, so each pass takes the lowest one left.
            while (inUse[word] != 0)
                DropSlot(space, (word << 6) | BitOperations.TrailingZeroCount(inUse[word]), flush: false);
        }

        if (space.Pae)
        {
            for (int quarter = 0; quarter < 4; quarter++)
            {
                if (space.Pdptes[quarter] != 0)
                    _tables.RemoveDirectory(DirectoryOf(space.Pdptes[quarter]), space);
                space.Pdptes[quarter] = 0;
            }
        }
        else
        {
            _tables.RemoveDirectory(space.DirectoryGfn, space);
        }

        _byDirectory.Remove(space.Key);
        space.Live = false;
        PublishDirectory(space);
        space.EntryCount = 0;
        _freeIds.Push(space.Id);
        foreach (ProcessorView view in _views)
        {
            int set = space.TlbSets[view.Index];
            if (set >= 0)
            {
                view.Processor.FlushTlbSet(set);
                view.TlbOwners[set] = null;
                space.TlbSets[view.Index] = -1;
            }

            if (space == view.Current)
                view.Current = null;
        }

        Stats.ShadowsDropped++;
    }

    private void ForgetEverything()
    {
        foreach (ShadowSpace? space in _spaces)
        {
            if (space is { Live: true })
                DropSpace(space);
        }

        foreach (ProcessorView view in _views)
            view.Current = null;
        _mode = ModeOf(_view.Processor);
        _untrackedStores = false;
    }

    /// <summary>A recycled guest table: drop every shadow built from it, so it is no longer protected.</summary>
    private void Unshadow(GuestTableRegistry.GuestTable table)
    {
        Stats.TablesUnshadowed++;
        _directoryUsers.Clear();
        _directoryUsers.AddRange(table.AsDirectory);
        _tableUsers.Clear();
        _tableUsers.AddRange(table.AsTable);
        foreach (ShadowSpace space in _directoryUsers)
        {
            _recycledDirectories.Add(space.Key);
            DropSpace(space);
        }
        foreach ((ShadowSpace space, int slot) in _tableUsers)
            DropSlot(space, slot);
    }

    // ---- Entries -----------------------------------------------------------------------------

    /// <summary>Drop every entry of a 4 MiB slot and unbind it from its guest table.</summary>
    private void DropSlot(ShadowSpace space, int slotIndex, bool flush = true)
    {
        int[]? entries = space.Entries[slotIndex];
        int dropped = 0;
        if (entries != null)
        {
            ulong[] bits = space.EntryBits[slotIndex]!;
            for (int word = 0; word < bits.Length; word++)
            {
                for (ulong w = bits[word]; w != 0; w &= w - 1)
                {
                    int i = (word << 6) | BitOperations.TrailingZeroCount(w);
                    _entries.Remove(entries[i]);
                    entries[i] = 0;
                    dropped++;
                }

                bits[word] = 0;
            }

            space.Entries[slotIndex] = null;
            space.EntryCount -= dropped;
            _freeSlots.Push(entries);
        }

        space.MarkSlotFree(slotIndex);

        uint table = space.TableGfn[slotIndex];
        bool bound = table != ShadowSpace.NoTable;
        if (table != ShadowSpace.NoTable && table != ShadowSpace.LargePage)
            _tables.RemoveTable(table, space, slotIndex);
        space.TableGfn[slotIndex] = ShadowSpace.NoTable;
        if (space.Pae)
        {
            uint high = space.HighTableGfn[slotIndex];
            if (high != ShadowSpace.NoTable && high != ShadowSpace.LargePage)
                _tables.RemoveTable(high, space, slotIndex);
            space.HighTableGfn[slotIndex] = ShadowSpace.NoTable;
        }
        // A bound slot may have TLB entries and no shadow entries: entries kept from another space (UseTlbSetOf).
        if (flush && (dropped > 0 || bound))
        {
            foreach (ProcessorView view in _views)
            {
                if (space.TlbSets[view.Index] is var set and >= 0)
                    view.Processor.FlushTlbSet(set);
            }
        }
    }

    /// <summary>The entries of <paramref name="slotIndex"/>, allocated (from the pool of dropped slots) when first used.</summary>
    private int[] SlotOf(ShadowSpace space, int slotIndex)
    {
        if (space.Entries[slotIndex] is int[] slot)
            return slot;
        space.MarkSlotInUse(slotIndex);
        space.EntryBits[slotIndex] ??= new ulong[ShadowSpace.PagesPerSlot / 64];
        return space.Entries[slotIndex] = _freeSlots.Count > 0 ? _freeSlots.Pop() : new int[ShadowSpace.PagesPerSlot];
    }

    /// <summary>Drop the entry of linear page <paramref name="lp"/>, if any; true when there was one.</summary>
    private bool DropEntry(ShadowSpace space, uint lp)
    {
        int[]? slot = space.Entries[lp >> 10];
        int e = slot?[lp & (ShadowSpace.PagesPerSlot - 1)] ?? 0;
        if (e == 0)
            return false;
        RemoveEntry(space, e);
        return true;
    }

    private void RemoveEntry(ShadowSpace space, int e)
    {
        uint lp = _entries.LinearPage(e);
        int index = (int)(lp & (ShadowSpace.PagesPerSlot - 1));
        space.Entries[lp >> 10]![index] = 0;
        space.EntryBits[lp >> 10]![index >> 6] &= ~(1ul << index);
        space.EntryCount--;
        _entries.Remove(e);
        FlushFromTlbs(space, lp);
    }

    /// <summary>Drop linear page <paramref name="lp"/> of <paramref name="space"/> from every processor's TLB set of that space.</summary>
    private void FlushFromTlbs(ShadowSpace space, uint lp)
    {
        foreach (ProcessorView view in _views)
        {
            if (space.TlbSets[view.Index] is var set and >= 0)
                view.Processor.FlushTlbPage(set, lp << 12);
        }
    }

    /// <summary>The P2M gave <paramref name="gfn"/> another machine frame or took write access away: shoot its entries down.</summary>
    private void OnBackingChanged(uint gfn)
    {
        if (gfn >= _frames)
            return;
        for (int e = _entries.FirstMapping(gfn); e != 0;)
        {
            int next = _entries.NextMapping(e); // read before the entry goes back to the pool
            RemoveEntry(_spaces[_entries.Space(e)]!, e);
            Stats.Shootdowns++;
            e = next;
        }
    }

    /// <summary>One processor's side of the shadows: its current space and which space owns each of its tagged TLB sets.</summary>
    private sealed class ProcessorView(Cpu.Cpu cpu, int index)
    {
        public Cpu.Cpu Processor { get; } = cpu;

        public int Index { get; } = index;

        public ShadowSpace? Current { get; set; }

        public ShadowSpace?[] TlbOwners { get; } = new ShadowSpace?[Cpu.Cpu.TlbSets];
    }
}

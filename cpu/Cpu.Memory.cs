using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>
/// Linear memory access: a direct-mapped software TLB per privilege class (supervisor, user),
/// separate for reads and writes, holding host addresses of guest frames. A hit is one compare
/// and one load; a miss walks the page tables, asks the physical memory for the frame and refills.
/// Write entries are never installed for frames that hold decoded code, so every store to code
/// takes the slow path and drops the stale blocks.
/// </summary>
/// <remarks>
/// A page that is not RAM (a device window such as the local APIC's) gets an entry too, tagged
/// <see cref="TlbEntry.Unbacked"/>: the inline fast path never matches it, but the slow path finds the
/// physical page there and goes straight to the device, without a walk. Kernels read the APIC ID register
/// in loops, so that access must cost one call, not a page walk. Every flush drops those entries with the
/// others, and a store to a device ends the block, since the device may have raised an interrupt.
/// </remarks>
public sealed unsafe partial class Cpu
{
    internal const int TlbEntries = 512;
    internal const int TlbMask = TlbEntries - 1;

    /// <summary>
    /// How many tagged TLBs the CPU keeps. An MMU that keeps address spaces coherent on its own (the shadow MMU)
    /// gives each recently used space a set of its own, so a CR3 switch back to it finds its translations warm
    /// instead of refilling an emptied TLB.
    /// </summary>
    public const int TlbSets = 8;

    private const int EntriesPerSet = 4 * TlbEntries;
    private const int FilterWordsPerSet = (1 << 16) / 64;

    private TlbEntry* _tlbBlock;

    // The set in use: its four tables start at _tlbSetBase.
    private int _tlbSet;
    private TlbEntry* _tlbSetBase;

    // The TLB in use, chosen by CPL: user-mode entries are filled with user checks.
    internal TlbEntry* TlbRead;
    internal TlbEntry* TlbWrite;

    private TlbEntry* SupRead => _tlbSetBase;

    private TlbEntry* SupWrite => _tlbSetBase + TlbEntries;

    private TlbEntry* UserRead => _tlbSetBase + (2 * TlbEntries);

    private TlbEntry* UserWrite => _tlbSetBase + (3 * TlbEntries);

    private void InitTlb()
    {
        _tlbBlock = (TlbEntry*)NativeMemory.AllocZeroed((nuint)(TlbSets * EntriesPerSet * sizeof(TlbEntry)));
        _tlbSetBase = _tlbBlock;
        FlushTlb();
        SelectTlbForCpl();
    }

    private void FreeTlb() => NativeMemory.Free(_tlbBlock);

    internal void SelectTlbForCpl()
    {
        bool user = CplValue == 3;
        TlbRead = user ? UserRead : SupRead;
        TlbWrite = user ? UserWrite : SupWrite;
        TranslationEpoch++;
    }

    /// <summary>The tagged TLB set in use (see <see cref="TlbSets"/>).</summary>
    public int TlbSet => _tlbSet;

    /// <summary>
    /// Make <paramref name="set"/> the TLB in use, keeping what it holds: the MMU answers for its entries still
    /// being right for the address space now loaded (<see cref="IMmu.TagsTlbByAddressSpace"/>).
    /// </summary>
    public void UseTlbSet(int set)
    {
        if ((uint)set >= TlbSets)
            throw new ArgumentOutOfRangeException(nameof(set));
        _tlbSet = set;
        _tlbSetBase = _tlbBlock + (set * EntriesPerSet);
        SelectTlbForCpl();
    }

    // Per set, one bit per (gfn mod 2^16): set when a TLB entry for such a gfn is filled, cleared with the set,
    // so that dropping one frame's entries (a break or a merge, thousands a second) rarely scans a set.
    private readonly ulong[] _tlbGfnFilter = new ulong[TlbSets * FilterWordsPerSet];

    // Per set, the entries filled since the set was last emptied, so that emptying it (at every switch to a space
    // that had no set) touches those entries and their filter bits only. Past FillLogLength fills the whole set is cleared.
    private const int FillLogLength = 256;
    private readonly int[] _fillLog = new int[TlbSets * FillLogLength];
    private readonly int[] _fillCount = new int[TlbSets];

    // Per set, one bit per 4 MiB slot (16 words) that may have entries: set at each fill, cleared with the set, so that
    // the MMU handing a set to another space compares only the slots the set holds.
    private const int SlotWords = 1024 / 64;
    private readonly ulong[] _slotsFilled = new ulong[TlbSets * SlotWords];

    // FlushTlbSetExceptSlots' list of the entries it keeps, logged again once it is done.
    private readonly int[] _keptLog = new int[FillLogLength];

    /// <summary>The 4 MiB slots (one bit each, 1,024) in which tagged set <paramref name="set"/> may hold entries.</summary>
    public ReadOnlySpan<ulong> SlotsInTlbSet(int set) => _slotsFilled.AsSpan(set * SlotWords, SlotWords);

    /// <summary>TLB entries filled since the CPU was made: each one a miss that asked the MMU.</summary>
    public long TlbFills { get; private set; }

    /// <summary>An entry of the set in use was just filled: remember it for the next flush of the set.</summary>
    private void NoteFill(TlbEntry* e)
    {
        TlbFills++;
        if (e == ScratchEntry)
            return; // used for one access, never looked up
        int n = _fillCount[_tlbSet]++;
        if (n < FillLogLength)
            _fillLog[(_tlbSet * FillLogLength) + n] = (int)(e - _tlbSetBase);
        MarkGfn(_tlbSet, e->Gfn);
        _slotsFilled[(_tlbSet * SlotWords) + (int)(e->Tag >> 28)] |= 1ul << (int)((e->Tag >> 22) & 63);
    }

    private bool MayHoldGfn(int set, uint gfn) => (_tlbGfnFilter[(set * FilterWordsPerSet) + (int)((gfn >> 6) & 1023)] & (1ul << (int)(gfn & 63))) != 0;

    /// <summary>Drop every cached translation of every set (paging mode change, a reset, an MMU without tags loading CR3).</summary>
    public void FlushTlb()
    {
        TranslationEpoch++;
        for (int i = 0; i < TlbSets * EntriesPerSet; i++)
            _tlbBlock[i].Tag = TlbEntry.Invalid;
        Array.Clear(_tlbGfnFilter);
        Array.Clear(_fillCount);
        Array.Clear(_slotsFilled);
    }

    /// <summary>Drop every cached translation of one tagged set (its address space changed, or the set gets another).</summary>
    public void FlushTlbSet(int set)
    {
        if ((uint)set >= TlbSets)
            throw new ArgumentOutOfRangeException(nameof(set));
        TranslationEpoch++;
        TlbEntry* entries = _tlbBlock + (set * EntriesPerSet);
        int filled = _fillCount[set];
        _fillCount[set] = 0;
        Array.Clear(_slotsFilled, set * SlotWords, SlotWords);
        if (filled > FillLogLength)
        {
            for (int i = 0; i < EntriesPerSet; i++)
                entries[i].Tag = TlbEntry.Invalid;
            Array.Clear(_tlbGfnFilter, set * FilterWordsPerSet, FilterWordsPerSet);
            return;
        }

        // Every entry valid now was filled since the last flush, so it is in the log (an entry filled twice is twice).
        for (int i = 0; i < filled; i++)
        {
            TlbEntry* e = entries + _fillLog[(set * FillLogLength) + i];
            e->Tag = TlbEntry.Invalid;
            uint gfn = e->Gfn;
            _tlbGfnFilter[(set * FilterWordsPerSet) + (int)((gfn >> 6) & 1023)] = 0;
        }
    }

    /// <summary>
    /// Give tagged set <paramref name="set"/> to another address space, keeping the entries of the 4 MiB slots whose bit
    /// is set in <paramref name="keptSlots"/> (1,024 bits) and dropping the rest: the MMU answers for those slots
    /// translating the same in both spaces (a kernel half reached through every space's directory), so the new space
    /// starts with them warm instead of filling each again.
    /// </summary>
    public void FlushTlbSetExceptSlots(int set, ReadOnlySpan<ulong> keptSlots)
    {
        if ((uint)set >= TlbSets)
            throw new ArgumentOutOfRangeException(nameof(set));
        if (keptSlots.Length != SlotWords)
            throw new ArgumentException("one bit per 4 MiB slot", nameof(keptSlots));
        TranslationEpoch++;
        TlbEntry* entries = _tlbBlock + (set * EntriesPerSet);
        int filled = _fillCount[set];
        int kept = 0;
        if (filled > FillLogLength)
        {
            // The log overflowed, so any entry may be valid: look at them all, and build the filter anew.
            Array.Clear(_tlbGfnFilter, set * FilterWordsPerSet, FilterWordsPerSet);
            for (int i = 0; i < EntriesPerSet; i++)
                KeepOrDrop(set, entries, i, keptSlots, ref kept, clearFilter: false);
        }
        else
        {
            // Every entry valid now was filled since the set was last emptied, so it is in the log. The newest first:
            // those are the ones the kernel uses now, so they are kept when there are more than KeptLimit.
            for (int i = filled - 1; i >= 0; i--)
                KeepOrDrop(set, entries, _fillLog[(set * FillLogLength) + i], keptSlots, ref kept, clearFilter: true);
        }

        // The log (oldest first again) and the filter bits (a dropped entry cleared its word) start again from the entries kept.
        for (int i = 0; i < kept; i++)
        {
            int index = _keptLog[kept - 1 - i];
            TlbEntry* e = entries + index;
            e->Tag &= ~KeptMark;
            _fillLog[(set * FillLogLength) + i] = index;
            MarkGfn(set, e->Gfn);
        }

        _fillCount[set] = kept;
        for (int w = 0; w < SlotWords; w++)
            _slotsFilled[(set * SlotWords) + w] &= keptSlots[w];
    }

    // The most entries a hand-over keeps: each costs a look at every hand-over, and the kernel's hot pages are fewer.
    private const int KeptLimit = 128;

    // Marks an entry already kept by FlushTlbSetExceptSlots, so that one filled twice (and logged twice) is logged once.
    private const uint KeptMark = 4;

    /// <summary>
    /// Keep entry <paramref name="index"/> when its slot is in <paramref name="keptSlots"/> and the log has room (the
    /// rest are filled again if used: a full log would make every later hand-over scan the whole set), else drop it.
    /// </summary>
    private void KeepOrDrop(int set, TlbEntry* entries, int index, ReadOnlySpan<ulong> keptSlots, ref int kept, bool clearFilter)
    {
        TlbEntry* e = entries + index;
        uint tag = e->Tag;
        if ((tag & KeptMark) != 0)
            return; // logged twice, kept already
        int slot = (int)(tag >> 22);
        if (tag == TlbEntry.Invalid || (keptSlots[slot >> 6] & (1ul << slot)) == 0 || kept == KeptLimit)
        {
            e->Tag = TlbEntry.Invalid;
            if (clearFilter)
                _tlbGfnFilter[(set * FilterWordsPerSet) + (int)((e->Gfn >> 6) & 1023)] = 0;
            return;
        }

        e->Tag = tag | KeptMark;
        _keptLog[kept++] = index;
    }

    private void MarkGfn(int set, uint gfn)
        => _tlbGfnFilter[(set * FilterWordsPerSet) + (int)((gfn >> 6) & 1023)] |= 1ul << (int)(gfn & 63);

    /// <summary>Drop the cached translations of one linear page in the set in use (INVLPG).</summary>
    public void FlushTlbPage(uint linear) => FlushTlbPage(_tlbSet, linear);

    /// <summary>Drop the cached translations of one linear page in tagged set <paramref name="set"/>.</summary>
    public void FlushTlbPage(int set, uint linear)
    {
        if ((uint)set >= TlbSets)
            throw new ArgumentOutOfRangeException(nameof(set));
        TranslationEpoch++;
        uint tag = linear & 0xFFFFF000;
        int index = (int)((linear >> 12) & TlbMask);
        TlbEntry* entries = _tlbBlock + (set * EntriesPerSet);
        for (int t = 0; t < 4; t++)
        {
            TlbEntry* e = entries + (t * TlbEntries) + index;
            if ((e->Tag & ~TlbEntry.Unbacked) == tag)
                e->Tag = TlbEntry.Invalid;
        }
    }

    /// <summary>Drop every cached translation to guest frame <paramref name="gfn"/>, in every set (its backing changed).</summary>
    public void FlushTlbFrame(uint gfn)
    {
        for (int set = 0; set < TlbSets; set++)
        {
            // No entry for it was filled since the set was last emptied. (A change of backing leaves linear-to-
            // guest-physical translations and decoded blocks as they were, so block chains need no new epoch.)
            if (!MayHoldGfn(set, gfn))
                continue;
            TranslationEpoch++;
            DropEntriesOfFrame(set, gfn, writesOnly: false);
        }
    }

    /// <summary>A frame now holds decoded code: no set may keep a write entry for it, so every store there drops the blocks.</summary>
    internal void FlushWriteEntriesOfFrame(uint gfn)
    {
        for (int set = 0; set < TlbSets; set++)
        {
            if (MayHoldGfn(set, gfn))
                DropEntriesOfFrame(set, gfn, writesOnly: true);
        }
    }

    /// <summary>Invalidates the entries of <paramref name="set"/> that map <paramref name="gfn"/> (with <paramref name="writesOnly"/>, its write entries).</summary>
    private void DropEntriesOfFrame(int set, uint gfn, bool writesOnly)
    {
        TlbEntry* entries = _tlbBlock + (set * EntriesPerSet);
        int filled = _fillCount[set];
        if (filled > FillLogLength)
        {
            for (int i = 0; i < EntriesPerSet; i++)
                DropIfFrame(entries, i, gfn, writesOnly);
            return;
        }

        // Every entry valid now was filled since the set was last emptied, so it is in the log: a break or a merge
        // (thousands a second beside a scanner) looks at those few entries, not at the whole set.
        for (int i = 0; i < filled; i++)
            DropIfFrame(entries, _fillLog[(set * FillLogLength) + i], gfn, writesOnly);
    }

    private static void DropIfFrame(TlbEntry* entries, int index, uint gfn, bool writesOnly)
    {
        // A set's four tables in order: supervisor read, supervisor write, user read, user write.
        if (entries[index].Gfn == gfn && (!writesOnly || ((index / TlbEntries) & 1) != 0))
            entries[index].Tag = TlbEntry.Invalid;
    }

    // ---- Translation -----------------------------------------------------------------------

    /// <summary>
    /// Translate a linear address for an access, raising #PF as the architecture does. With paging off
    /// the address is the physical one; with paging on the MMU answers (<see cref="Mmu"/>).
    /// </summary>
    internal Translation Translate(uint linear, AccessKind access)
    {
        Translation t;
        if ((_cr0 & CR0_PG) == 0)
        {
            uint page = linear & _a20Mask & 0xFFFFF000;
            t = default;
            t.PhysicalPage = page;
            t.Host = (access & AccessKind.Write) != 0 ? _memory.FrameForWrite(page >> 12) : _memory.FrameForRead(page >> 12);
            t.Cacheable = true;
            return t;
        }

        if (!Mmu.Translate(linear, access, out t, out int error))
        {
            Cr2Value = linear;
            if (!_reportPageFault)
                throw Fault(Vectors.PF, error);
            PendPageFault(error);
            return default;
        }

        if ((t.PhysicalPage & ~_a20Mask) != 0)
            MaskA20(ref t, access);
        return t;
    }

    /// <summary>
    /// The A20 gate is closed and the page's address has bit 20 set: the access reaches the frame without it,
    /// as the A20M# line makes it. (The MMU's bookkeeping, such as a shadow's write notice, stays with the unmasked page.)
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MaskA20(ref Translation t, AccessKind access)
    {
        t.PhysicalPage &= _a20Mask;
        uint gfn = t.PhysicalPage >> 12;
        t.Host = (access & AccessKind.Write) != 0 ? _memory.FrameForWrite(gfn) : _memory.FrameForRead(gfn);
    }

    private AccessKind AccessFor(bool write, bool supervisor)
        => (write ? AccessKind.Write : AccessKind.Read) | (!supervisor && CplValue == 3 ? AccessKind.User : 0);

    /// <summary>Fill the read TLB for <paramref name="linear"/>; returns the entry, or null when the frame is not RAM.</summary>
    private TlbEntry* FillRead(uint linear, bool supervisor, out uint physical)
    {
        Translation t = Translate(linear, AccessFor(false, supervisor));
        physical = t.PhysicalPage | (linear & 0xFFF);
        if (PageFaultPending)
            return null;
        TlbEntry* e = (supervisor || CplValue != 3 ? SupRead : UserRead) + ((linear >> 12) & TlbMask);
        if (t.Host == null)
        {
            if (t.Cacheable && !IsWatchedPage(linear))
            {
                KeepUnbacked(e, linear, t.PhysicalPage);
                NoteFill(e);
            }
            return null;
        }

        if (!t.Cacheable || IsWatchedPage(linear))
            e = ScratchEntry;
        e->Tag = linear & 0xFFFFF000;
        e->Gfn = t.PhysicalPage >> 12;
        e->Addend = (nint)t.Host - (nint)(linear & 0xFFFFF000);
        NoteFill(e);
        return e;
    }

    /// <summary>
    /// Fill the write TLB for a store of <paramref name="size"/> bytes at <paramref name="linear"/>; returns the
    /// entry, or null when the frame is not RAM. A translation the TLB may not keep is returned in a scratch entry
    /// used for this store only; <paramref name="notify"/> then says whether the MMU wants to hear of the store.
    /// </summary>
    private TlbEntry* FillWrite(uint linear, int size, bool supervisor, out uint physical, out bool notify)
    {
        Translation t = Translate(linear, AccessFor(true, supervisor));
        physical = t.PhysicalPage | (linear & 0xFFF);
        notify = t.NotifyWrite;
        if (PageFaultPending)
            return null;
        uint gfn = t.PhysicalPage >> 12;
        bool besideCode = false;
        if (CodeFrames[gfn] != 0)
        {
            if (StoreTouchesCode(gfn, linear & 0xFFF, size))
                InvalidateCodeFrame(gfn);
            else
                besideCode = true; // the blocks stay, and so no write entry: the next store is checked too
        }
        TlbEntry* e = (supervisor || CplValue != 3 ? SupWrite : UserWrite) + ((linear >> 12) & TlbMask);
        if (t.Host == null)
        {
            if (t.Cacheable && !t.NotifyWrite && !IsWatchedPage(linear))
            {
                KeepUnbacked(e, linear, t.PhysicalPage);
                NoteFill(e);
            }
            return null;
        }

        if (!t.Cacheable || t.NotifyWrite || besideCode || IsWatchedPage(linear))
        {
            e->Tag = TlbEntry.Invalid;
            e = ScratchEntry;
        }

        e->Tag = linear & 0xFFFFF000;
        e->Gfn = gfn;
        e->Addend = (nint)t.Host - (nint)(linear & 0xFFFFF000);
        NoteFill(e);
        return e;
    }

    /// <summary>Remember that <paramref name="linear"/>'s page is the device page <paramref name="physicalPage"/>, for the slow path.</summary>
    private static void KeepUnbacked(TlbEntry* e, uint linear, uint physicalPage)
    {
        e->Tag = (linear & 0xFFFFF000) | TlbEntry.Unbacked;
        e->Gfn = physicalPage >> 12;
        e->Addend = 0;
    }

    // Holds a translation the TLB may not keep, for the one access that asked for it.
#pragma warning disable CS0649 // written through ScratchEntry
    private TlbEntry _scratchEntry;
#pragma warning restore CS0649

    private TlbEntry* ScratchEntry => (TlbEntry*)Unsafe.AsPointer(ref _scratchEntry);

    // ---- Reads -----------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(uint lin)
    {
        TlbEntry* e = TlbRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000))
            return *(byte*)(e->Addend + lin);
        return (byte)ReadSlow(lin, 1, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(uint lin)
    {
        TlbEntry* e = TlbRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFFE)
            return *(ushort*)(e->Addend + lin);
        return (ushort)ReadSlow(lin, 2, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(uint lin)
    {
        TlbEntry* e = TlbRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFFC)
            return *(uint*)(e->Addend + lin);
        return ReadSlow(lin, 4, false);
    }

    internal uint Read(uint lin, int size) => size switch
    {
        1 => Read8(lin),
        2 => Read16(lin),
        _ => Read32(lin),
    };

    /// <summary>Implicit supervisor read (descriptor tables, TSS, IDT), whatever the CPL.</summary>
    internal uint ReadSupervisor(uint lin, int size)
    {
        // Every interrupt, system call and segment load reads these tables: a hit in the supervisor TLB is one load.
        TlbEntry* e = SupRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFFC)
        {
            uint value = *(uint*)(e->Addend + lin);
            return size == 4 ? value : size == 2 ? (ushort)value : (byte)value;
        }

        return ReadSlow(lin, size, true);
    }

    /// <summary>An 8-byte descriptor or gate, read as two supervisor dwords (one load when the TLB holds its page).</summary>
    internal ulong ReadSupervisor64(uint lin)
    {
        TlbEntry* e = SupRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFF8)
            return *(ulong*)(e->Addend + lin);
        return ReadSlow(lin, 4, true) | ((ulong)ReadSlow(lin + 4, 4, true) << 32);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private uint ReadSlow(uint lin, int size, bool supervisor)
    {
        if ((lin & 0xFFF) > 0x1000 - size)
        {
            // Crosses into the next page: both pages must translate before anything is read.
            uint value = 0;
            Probe(lin, false, supervisor);
            Probe((lin + (uint)size - 1) & 0xFFFFF000, false, supervisor); // CR2 names the second page's first byte, as QEMU reports
            for (int i = 0; i < size; i++)
                value |= ReadSlow(lin + (uint)i, 1, supervisor) << (8 * i);
            return value;
        }

        TlbEntry* e = (supervisor || CplValue != 3 ? SupRead : UserRead) + ((lin >> 12) & TlbMask);
        uint physical;
        if (e->Tag != (lin & 0xFFFFF000))
        {
            if (e->Tag == ((lin & 0xFFFFF000) | TlbEntry.Unbacked))
                return _memory.ReadUnbacked((e->Gfn << 12) | (lin & 0xFFF), size);
            e = FillRead(lin, supervisor, out physical);
            if (PageFaultPending)
                return 0;
            if (_watchedPages != null)
                CheckWatch(lin, size, write: false);
            if (e == null)
                return _memory.ReadUnbacked(physical, size);
        }

        byte* p = (byte*)(e->Addend + lin);
        return size switch
        {
            1 => *p,
            2 => *(ushort*)p,
            _ => *(uint*)p,
        };
    }

    /// <summary>Translate without accessing, so a multi-part access faults before it changes anything.</summary>
    internal void Probe(uint lin, bool write, bool supervisor = false)
    {
        TlbEntry* e = (write ? (supervisor || CplValue != 3 ? SupWrite : UserWrite) : (supervisor || CplValue != 3 ? SupRead : UserRead))
            + ((lin >> 12) & TlbMask);
        if ((e->Tag & ~TlbEntry.Unbacked) == (lin & 0xFFFFF000))
            return;
        Translate(lin, AccessFor(write, supervisor));
    }

    // ---- Writes ----------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(uint lin, byte value)
    {
        TlbEntry* e = TlbWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000))
            *(byte*)(e->Addend + lin) = value;
        else
            WriteSlow(lin, 1, value, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(uint lin, ushort value)
    {
        TlbEntry* e = TlbWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFFE)
            *(ushort*)(e->Addend + lin) = value;
        else
            WriteSlow(lin, 2, value, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(uint lin, uint value)
    {
        TlbEntry* e = TlbWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0xFFC)
            *(uint*)(e->Addend + lin) = value;
        else
            WriteSlow(lin, 4, value, false);
    }

    internal void Write(uint lin, int size, uint value)
    {
        switch (size)
        {
            case 1: Write8(lin, (byte)value); break;
            case 2: Write16(lin, (ushort)value); break;
            default: Write32(lin, value); break;
        }
    }

    /// <summary>Implicit supervisor write (an interrupt's frame on the inner stack, a descriptor's accessed bit).</summary>
    internal void WriteSupervisor(uint lin, int size, uint value)
    {
        TlbEntry* e = SupWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000) && (lin & 0xFFF) <= 0x1000 - size)
        {
            byte* p = (byte*)(e->Addend + lin);
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                default: *(uint*)p = value; break;
            }

            return;
        }

        WriteSlow(lin, size, value, true);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(uint lin, int size, uint value, bool supervisor)
    {
        if ((lin & 0xFFF) > 0x1000 - size)
        {
            Probe(lin, true, supervisor);
            Probe((lin + (uint)size - 1) & 0xFFFFF000, true, supervisor); // CR2 names the second page's first byte, as QEMU reports
            for (int i = 0; i < size; i++)
                WriteSlow(lin + (uint)i, 1, (value >> (8 * i)) & 0xFF, supervisor);
            return;
        }

        TlbEntry* e = (supervisor || CplValue != 3 ? SupWrite : UserWrite) + ((lin >> 12) & TlbMask);
        bool notify = false;
        uint physical = 0;
        if (e->Tag != (lin & 0xFFFFF000))
        {
            if (e->Tag == ((lin & 0xFFFFF000) | TlbEntry.Unbacked))
                physical = (e->Gfn << 12) | (lin & 0xFFF);
            else
                e = FillWrite(lin, size, supervisor, out physical, out notify);
            if (PageFaultPending)
                return;
            if (_watchedPages != null)
                CheckWatch(lin, size, write: true);
            if (e == null || (e->Tag & TlbEntry.Unbacked) != 0)
            {
                // A device: the store may raise or clear an interrupt request, which Run looks at between blocks.
                _memory.WriteUnbacked(physical, size, value);
                AbortBlock = true;
                return;
            }
        }

        byte* p = (byte*)(e->Addend + lin);
        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            default: *(uint*)p = value; break;
        }

        if (notify)
            Mmu.WriteCompleted(lin, physical, size);
    }

    // ---- Page faults left pending instead of thrown -------------------------------------------

    // A guest page fault thrown as a .NET exception costs microseconds and allocates its stack trace. An
    // interpreter handler whose one memory access is also its first and last effect (a MOV to or from memory)
    // asks for the fault to be left pending instead: Translate then records it, the slow path returns without
    // touching anything, the handler returns at once, and the execution loop delivers it as it would a thrown one.
    private bool _reportPageFault;

    // Set while compiled code runs: it calls the slow paths and handlers too, and expects a fault to unwind it.
    private bool _inCompiledCode;

    /// <summary>A page fault is waiting for the execution loop to deliver it; the instruction that raised it did nothing.</summary>
    internal bool PageFaultPending;

    private int _pendingPageFaultError;

    private void PendPageFault(int errorCode)
    {
        PageFaultPending = true;
        _pendingPageFaultError = errorCode;
        AbortBlock = true;
    }

    /// <summary>
    /// A load for a handler that may leave its page fault pending (see <see cref="PageFaultPending"/>): the handler
    /// must return at once, changing nothing, when the fault is pending. An access that crosses a page, or one from
    /// compiled code, throws its fault as every other access does.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal uint ReadOrPendFault(uint lin, int size)
    {
        if (_inCompiledCode || (lin & 0xFFF) > 0x1000 - size)
            return ReadSlow(lin, size, false);
        _reportPageFault = true;
        uint value = ReadSlow(lin, size, false);
        _reportPageFault = false;
        return value;
    }

    /// <summary>A store for a handler that may leave its page fault pending: as <see cref="ReadOrPendFault"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void WriteOrPendFault(uint lin, int size, uint value)
    {
        if (_inCompiledCode || (lin & 0xFFF) > 0x1000 - size)
        {
            WriteSlow(lin, size, value, false);
            return;
        }

        _reportPageFault = true;
        WriteSlow(lin, size, value, false);
        _reportPageFault = false;
    }

    // ---- Public helpers for loaders, debuggers and tests --------------------------------------

    /// <summary>Read guest memory at a linear address as the current CPL would, faulting as it would.</summary>
    public uint ReadLinear(uint linear, int size) => Read(linear, size);

    public void WriteLinear(uint linear, int size, uint value) => Write(linear, size, value);

    /// <summary>Translate a linear address without side effects (no A/D bits, no fault); false when unmapped.</summary>
    public bool TryTranslateQuiet(uint linear, out uint physical)
    {
        if ((_cr0 & CR0_PG) == 0)
        {
            physical = linear & _a20Mask;
            return true;
        }

        if (!PeekPageTables(linear, out ulong page, out _) || page > uint.MaxValue)
        {
            physical = 0;
            return false; // unmapped, or a PAE page above 4 GiB where nothing is
        }

        physical = ((uint)page | (linear & 0xFFF)) & _a20Mask;
        return true;
    }
}

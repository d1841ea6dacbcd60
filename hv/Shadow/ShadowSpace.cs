namespace MiniHv.Hv.Shadow;

/// <summary>
/// The shadow of one guest address space (one page directory, keyed by the guest's CR3): for each 4 MiB
/// slot of the linear space, the guest page table it was built from and the shadow entries of its pages.
/// Slots are allocated when first used. A space object keeps its <see cref="Id"/> for the MMU's lifetime and is
/// reused for another directory once dropped, so switching among many address spaces allocates nothing.
/// </summary>
/// <remarks>
/// A PAE space (keyed by its 32-byte-aligned PDPT) has the same shape: the host only translates 32-bit linear
/// addresses, so a flat map of 4 KiB linear pages to entries serves both modes, and a hit costs the same. Only
/// where a slot's entries come from differs: its two 2 MiB halves come from two PAE page tables (or 2 MiB pages),
/// <see cref="TableGfn"/> and <see cref="HighTableGfn"/>, under the page directory of one of the four PDPTEs the
/// space was built from (<see cref="Pdptes"/>).
/// </remarks>
internal sealed class ShadowSpace
{
    public const int SlotCount = 1024;
    public const int PagesPerSlot = 1024;

    /// <summary>The slot's pages come from a 4 MiB page of the directory entry, not from a table.</summary>
    public const uint LargePage = uint.MaxValue;

    /// <summary>No guest table bound to the slot yet.</summary>
    public const uint NoTable = uint.MaxValue - 1;

    public ShadowSpace(int id)
    {
        Id = id;
    }

    /// <summary>Index of this space in the MMU's table of spaces; entries name their space by it.</summary>
    public int Id { get; }

    /// <summary>The guest frame holding the page directory, or with PAE the PDPT (CR3 >> 12), while <see cref="Live"/>.</summary>
    public uint DirectoryGfn { get; set; }

    /// <summary>What the MMU finds the space by: the directory frame, or with PAE the PDPT's address (several share a page).</summary>
    public uint Key { get; set; }

    /// <summary>A PAE space: 64-bit entries, slots built from two half tables, directories from <see cref="Pdptes"/>.</summary>
    public bool Pae { get; set; }

    /// <summary>PAE: the PDPTE registers the space's entries were built from (not present: 0).</summary>
    public readonly ulong[] Pdptes = new ulong[4];

    /// <summary>The space shadows a directory now; false while it waits in the pool.</summary>
    public bool Live { get; set; }

    /// <summary>A CR3 load has made the space current since it was created (for the first-visit statistic).</summary>
    public bool Loaded { get; set; }

    /// <summary>Per processor (by its index in the MMU): the tagged TLB set that holds this space's translations, or -1.</summary>
    public readonly int[] TlbSets = CreateTlbSets();

    /// <summary>When this space was last made current, for least-recently-used eviction.</summary>
    public long LastUsed { get; set; }

    /// <summary>Per slot: entry indices of its 1024 pages (0: none), or null when nothing in the slot is shadowed.</summary>
    public readonly int[]?[] Entries = new int[SlotCount][];

    /// <summary>Per slot: the guest page-table frame the slot's entries came from, <see cref="LargePage"/>, or <see cref="NoTable"/>.</summary>
    public readonly uint[] TableGfn = CreateTableGfns();

    /// <summary>
    /// Per slot bound to a 4 KiB page table (two-level paging): the R/W and U/S bits of the directory entry it was bound
    /// through. Two spaces whose slot has the same table and the same bits translate the slot's pages alike.
    /// </summary>
    public readonly byte[] DirectoryBits = new byte[SlotCount];

    /// <summary>PAE: per slot, the table (or <see cref="LargePage"/>) its upper 2 MiB came from; <see cref="TableGfn"/> has the lower half's.</summary>
    public uint[] HighTableGfn => _highTableGfn ??= CreateTableGfns();

    private uint[]? _highTableGfn;

    /// <summary>Entries in this space.</summary>
    public int EntryCount { get; set; }

    /// <summary>
    /// Per slot: one bit per page that has an entry, so that dropping the slot finds its entries without scanning its
    /// 1024 pages. Allocated with the slot's first entry and kept, all zero, when the slot is dropped.
    /// </summary>
    public readonly ulong[]?[] EntryBits = new ulong[SlotCount][];

    /// <summary>
    /// One bit per slot that has entries or a bound table, so that dropping the whole space (an eviction, thousands a
    /// second when a guest cycles through more address spaces than the cache holds) visits only those.
    /// </summary>
    public readonly ulong[] SlotsInUse = new ulong[SlotCount / 64];

    public void MarkSlotInUse(int slot) => SlotsInUse[slot >> 6] |= 1ul << slot;

    public void MarkSlotFree(int slot) => SlotsInUse[slot >> 6] &= ~(1ul << slot);

    private static int[] CreateTlbSets()
    {
        var sets = new int[ShadowMmu.MaxProcessors];
        Array.Fill(sets, -1);
        return sets;
    }

    private static uint[] CreateTableGfns()
    {
        var t = new uint[SlotCount];
        Array.Fill(t, NoTable);
        return t;
    }
}

namespace MiniHv.Cpu;

/// <summary>
/// PAE's processor state: CR4.PAE, the IA32_EFER MSR (NXE only) and the four page-directory-pointer-table
/// entries, which are registers loaded from memory at CR3 (32-byte aligned) and not re-read by the walk. So a
/// change of the PDPT in memory takes effect at the next load, as the SDM says (4.4.1): a MOV to CR3 with PAE
/// paging in use, or a MOV to CR0 or CR4 that changes PG, CD, NW, PAE, PGE or PSE and leaves PAE paging in use.
/// A present entry with a reserved bit set makes that MOV raise #GP(0) and change nothing.
/// </summary>
public sealed unsafe partial class Cpu
{
    public const uint CR4_PAE = 1u << 5;

    /// <summary>IA32_EFER.</summary>
    public const uint EferMsr = 0xC000_0080;

    /// <summary>EFER.NXE: bit 63 of PAE entries is execute-disable instead of reserved.</summary>
    public const uint EFER_NXE = 1u << 11;

    /// <summary>
    /// The physical-address width (MAXPHYADDR) CPUID implies when it has no leaf 0x80000008, as here: PAE entries
    /// may name addresses up to 64 GiB, and their bits from 36 up (below the NX bit) are reserved.
    /// </summary>
    public const int PhysicalAddressBits = 36;

    /// <summary>Reserved bits of a present PDPTE: 2-1, 8-5, and 63-MAXPHYADDR (NX included: PDPTEs have none).</summary>
    public const ulong PdpteReservedBits = 0x1E6ul | (~0ul << PhysicalAddressBits);

    private const uint Cr0PdptReloadBits = CR0_PG | CR0_CD | CR0_NW;
    private const uint Cr4PdptReloadBits = CR4_PAE | CR4_PGE | CR4_PSE;

    private uint _efer;
    private readonly ulong[] _pdptes = new ulong[4];

    /// <summary>IA32_EFER as RDMSR reads it. Changing NXE changes what every PAE entry means, so translations are dropped.</summary>
    public uint Efer
    {
        get => _efer;
        set
        {
            if (value == _efer)
                return;
            _efer = value;
            UpdateFetchChecks();
            FlushTlb();
            Mmu.PagingChanged(PagingChange.EferChanged);
        }
    }

    /// <summary>Paging with CR4.PAE: 64-bit entries, three levels, the PDPTEs from their registers.</summary>
    public bool PaePaging => (_cr0 & CR0_PG) != 0 && (_cr4 & CR4_PAE) != 0;

    /// <summary>True when bit 63 of a PAE entry forbids instruction fetches (EFER.NXE under CR4.PAE).</summary>
    public bool NoExecuteEnabled => (_cr4 & CR4_PAE) != 0 && (_efer & EFER_NXE) != 0;

    /// <summary>PDPTE register <paramref name="index"/> (0-3: the quarter of the linear space it maps), as last loaded.</summary>
    public ulong Pdpte(int index) => _pdptes[index & 3];

    /// <summary>The PDPTE register that maps <paramref name="linear"/>.</summary>
    public ulong PdpteFor(uint linear) => _pdptes[linear >> 30];

    /// <summary>
    /// The architectural walk of <paramref name="linear"/> under the current CR0, CR3, CR4, EFER and PDPTEs: two-level
    /// (<see cref="PageWalker"/>) or PAE (<see cref="PaePageWalker"/>). Paging must be on.
    /// </summary>
    public bool WalkPageTables(IPhysicalMemory memory, uint linear, AccessKind access, out WalkRecord walk)
    {
        bool wp = (_cr0 & CR0_WP) != 0;
        if ((_cr4 & CR4_PAE) != 0)
            return PaePageWalker.Walk(memory, _pdptes[linear >> 30], (_efer & EFER_NXE) != 0, wp, linear, access, out walk);
        return PageWalker.Walk(memory, _cr3, (_cr4 & CR4_PSE) != 0, wp, linear, access, out walk);
    }

    /// <summary>
    /// The translation of <paramref name="linear"/> for a debugger or a dump, without A/D updates or faults: the
    /// physical address of its page (above 4 GiB with PAE) and the leaf's flags (NX in bit 63); false when unmapped.
    /// </summary>
    public bool PeekPageTables(uint linear, out ulong physicalPage, out ulong flags)
    {
        if ((_cr4 & CR4_PAE) != 0)
            return PaePageWalker.Peek(_memory, _pdptes[linear >> 30], (_efer & EFER_NXE) != 0, linear, out physicalPage, out flags);
        bool mapped = PageWalker.Peek(_memory, _cr3, (_cr4 & CR4_PSE) != 0, linear, out uint page, out uint f);
        physicalPage = page;
        flags = f;
        return mapped;
    }

    /// <summary>Would loading the PDPT at <paramref name="cr3"/> succeed (no present entry with a reserved bit)?</summary>
    internal bool PdptLoadable(uint cr3)
    {
        for (int i = 0; i < 4; i++)
        {
            ulong e = ReadPdpte(cr3, i);
            if ((e & 1) != 0 && (e & PdpteReservedBits) != 0)
                return false;
        }

        return true;
    }

    /// <summary>Would a MOV of these values to CR0, CR3 or CR4 load the PDPTEs, and from a PDPT that faults?</summary>
    internal bool PdptLoadFaults(uint cr0, uint cr3, uint cr4, bool cr3Written)
    {
        if ((cr0 & CR0_PG) == 0 || (cr4 & CR4_PAE) == 0)
            return false;
        bool reload = cr3Written || ((cr0 ^ _cr0) & Cr0PdptReloadBits) != 0 || ((cr4 ^ _cr4) & Cr4PdptReloadBits) != 0;
        return reload && !PdptLoadable(cr3);
    }

    /// <summary>CR3 was loaded: with PAE paging in use, the PDPTEs are read again.</summary>
    private void PdptesAfterCr3Load()
    {
        if (PaePaging)
            LoadPdptes();
    }

    /// <summary>
    /// CR0 or CR4 changed by <paramref name="cr0Changed"/>/<paramref name="cr4Changed"/>: reload the PDPTEs where the
    /// SDM does. True when the registers now hold other values (the MMU must hear of it even if no paging bit changed).
    /// </summary>
    private bool PdptesAfterControlChange(uint cr0Changed, uint cr4Changed)
        => PaePaging && ((cr0Changed & Cr0PdptReloadBits) != 0 || (cr4Changed & Cr4PdptReloadBits) != 0) && LoadPdptes();

    /// <summary>Read the four PDPTEs at CR3; true when any differs from what the registers held.</summary>
    private bool LoadPdptes()
    {
        bool changed = false;
        for (int i = 0; i < 4; i++)
        {
            ulong e = ReadPdpte(_cr3, i);
            changed |= e != _pdptes[i];
            _pdptes[i] = e;
        }

        return changed;
    }

    private ulong ReadPdpte(uint cr3, int index)
    {
        uint address = (cr3 & 0xFFFF_FFE0) + ((uint)index * 8);
        return PaePageWalker.ReadPhys64(_memory, address);
    }
}

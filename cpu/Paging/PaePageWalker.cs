namespace MiniHv.Cpu;

/// <summary>
/// The architectural PAE page walk (CR4.PAE): the PDPTE register for the linear address's top two bits, then a
/// page directory and a page table of 512 64-bit entries each; 2 MiB pages wherever a PDE has PS (CR4.PSE plays no
/// part); with EFER.NXE, bit 63 of a PDE or PTE forbids instruction fetches, and without it bit 63 is reserved.
/// A present entry with a reserved bit set faults with RSVD. Entries may name physical addresses up to 64 GiB;
/// nothing lives at or above 4 GiB, where entries read as zero and stores go nowhere, as at any unbacked address.
/// </summary>
/// <remarks>
/// The order of the checks and of the Accessed updates follows the walk: a PDE that leads to a table is marked
/// Accessed before the PTE is read (so it is marked even when the PTE then faults, as QEMU does), a leaf only once the
/// access is allowed. The PDPTEs are registers (<see cref="Cpu.Pdpte"/>): their reserved bits were checked when they
/// were loaded, and the walk does not read the PDPT in memory.
/// </remarks>
public static unsafe class PaePageWalker
{
    /// <summary>Bit 63 of a PDE or PTE: execute-disable with EFER.NXE, reserved without.</summary>
    public const ulong NoExecuteBit = 1ul << 63;

    /// <summary>Address bits of a PAE entry (MAXPHYADDR 36): 35-12.</summary>
    public const ulong AddressMask = 0x0000_000F_FFFF_F000;

    /// <summary>Reserved bits of every present PDE and PTE: 62 down to MAXPHYADDR.</summary>
    public const ulong HighReservedBits = 0x7FFF_FFF0_0000_0000;

    /// <summary>Reserved bits of a 2 MiB PDE besides <see cref="HighReservedBits"/>: 20-13 (between PAT and the frame).</summary>
    public const ulong LargePageReservedBits = 0x001F_E000;

    /// <summary>
    /// Walk <paramref name="linear"/> for <paramref name="access"/> through <paramref name="pdpte"/> (the PDPTE register of
    /// its quarter). On success every entry walked is marked Accessed and, for a write, the leaf Dirty; on failure
    /// <see cref="WalkRecord.ErrorCode"/> is the page-fault error code (I/D for a fetch when <paramref name="nxe"/>).
    /// </summary>
    public static bool Walk(IPhysicalMemory memory, ulong pdpte, bool nxe, bool wp, uint linear, AccessKind access, out WalkRecord walk)
    {
        bool write = (access & AccessKind.Write) != 0;
        bool user = (access & AccessKind.User) != 0;
        bool fetch = (access & AccessKind.Fetch) != 0;
        int errAccess = (write ? PageWalker.ErrWrite : 0) | (user ? PageWalker.ErrUser : 0) | (fetch && nxe ? PageWalker.ErrFetch : 0);
        ulong reserved = HighReservedBits | (nxe ? 0 : NoExecuteBit);
        walk = default;
        walk.Pae = true;
        if ((pdpte & PageWalker.P) == 0)
        {
            walk.ErrorCode = errAccess;
            return false;
        }

        ulong pdeAddr = (pdpte & AddressMask) | (((linear >> 21) & 0x1FF) << 3);
        ulong pde = ReadPhys64(memory, pdeAddr);
        walk.PdeAddress = (uint)pdeAddr;
        SetPde(ref walk, pde);
        if ((pde & PageWalker.P) == 0)
        {
            walk.ErrorCode = errAccess;
            return false;
        }

        bool large = (pde & PageWalker.PS) != 0;
        walk.Large = large;
        if ((pde & (reserved | (large ? LargePageReservedBits : 0))) != 0)
        {
            walk.ErrorCode = errAccess | PageWalker.ErrPresent | PageWalker.ErrReserved;
            return false;
        }

        ulong pteAddr = 0, pte = 0, leaf;
        uint perms;
        bool noExecute;
        if (large)
        {
            leaf = pde;
            perms = (uint)pde;
            noExecute = (pde & NoExecuteBit) != 0;
        }
        else
        {
            if ((pde & PageWalker.A) == 0)
            {
                pde |= PageWalker.A;
                WritePhys32(memory, pdeAddr, (uint)pde);
                SetPde(ref walk, pde);
            }

            pteAddr = (pde & AddressMask) | (((linear >> 12) & 0x1FF) << 3);
            pte = ReadPhys64(memory, pteAddr);
            walk.PteAddress = (uint)pteAddr;
            SetPte(ref walk, pte);
            if ((pte & PageWalker.P) == 0)
            {
                walk.ErrorCode = errAccess;
                return false;
            }

            if ((pte & reserved) != 0)
            {
                walk.ErrorCode = errAccess | PageWalker.ErrPresent | PageWalker.ErrReserved;
                return false;
            }

            leaf = pte;
            perms = (uint)pde & (uint)pte;
            noExecute = ((pde | pte) & NoExecuteBit) != 0;
        }

        walk.User = (perms & PageWalker.US) != 0;
        walk.Writable = (perms & PageWalker.RW) != 0;
        walk.NoExecute = nxe && noExecute;
        bool canWrite = walk.Writable || (!user && !wp);
        if ((user && !walk.User) || (write && !canWrite) || (fetch && walk.NoExecute))
        {
            walk.ErrorCode = errAccess | PageWalker.ErrPresent;
            return false;
        }

        // Accessed on the leaf; Dirty too for a write. Only the low half changes, so a 32-bit store does it.
        ulong leafAddr = large ? pdeAddr : pteAddr;
        if ((leaf & PageWalker.A) == 0 || (write && (leaf & PageWalker.D) == 0))
        {
            leaf |= PageWalker.A | (write ? PageWalker.D : 0);
            WritePhys32(memory, leafAddr, (uint)leaf);
            if (large)
                SetPde(ref walk, leaf);
            else
                SetPte(ref walk, leaf);
        }

        ulong physical = large ? (leaf & AddressMask & ~0x1F_FFFFul) | (linear & 0x001F_F000) : leaf & AddressMask;
        walk.PhysicalPage = (uint)physical;
        walk.BeyondFourGiB = physical > uint.MaxValue;
        walk.Dirty = (leaf & PageWalker.D) != 0;
        return true;
    }

    /// <summary>Walk for a debugger or a dump: no A/D updates, no faults; false when not mapped (or a reserved bit is set).</summary>
    public static bool Peek(IPhysicalMemory memory, ulong pdpte, bool nxe, uint linear, out ulong physical, out ulong flags)
    {
        physical = 0;
        flags = 0;
        ulong reserved = HighReservedBits | (nxe ? 0 : NoExecuteBit);
        if ((pdpte & PageWalker.P) == 0)
            return false;
        ulong pde = ReadPhys64(memory, (pdpte & AddressMask) | (((linear >> 21) & 0x1FF) << 3));
        if ((pde & PageWalker.P) == 0)
            return false;
        if ((pde & PageWalker.PS) != 0)
        {
            if ((pde & (reserved | LargePageReservedBits)) != 0)
                return false;
            physical = (pde & AddressMask & ~0x1F_FFFFul) | (linear & 0x001F_F000);
            flags = pde & (0xFFF | NoExecuteBit);
            return true;
        }

        if ((pde & reserved) != 0)
            return false;
        ulong pte = ReadPhys64(memory, (pde & AddressMask) | (((linear >> 12) & 0x1FF) << 3));
        if ((pte & PageWalker.P) == 0 || (pte & reserved) != 0)
            return false;
        physical = pte & AddressMask;
        flags = (pte & 0xFFF & ~(ulong)(PageWalker.RW | PageWalker.US)) | (pde & pte & (PageWalker.RW | PageWalker.US)) | ((pde | pte) & NoExecuteBit);
        return true;
    }

    /// <summary>A 64-bit entry at a guest-physical address; zero at or above 4 GiB, where nothing is.</summary>
    public static ulong ReadPhys64(IPhysicalMemory memory, ulong address)
    {
        if (address > uint.MaxValue - 7)
            return 0;
        uint a = (uint)address;
        byte* frame = memory.FrameForRead(a >> 12);
        if (frame != null)
            return *(ulong*)(frame + (a & 0xFFF));
        return memory.ReadUnbacked(a, 4) | ((ulong)memory.ReadUnbacked(a + 4, 4) << 32);
    }

    private static void WritePhys32(IPhysicalMemory memory, ulong address, uint value)
    {
        if (address > uint.MaxValue - 3)
            return;
        uint a = (uint)address;
        byte* frame = memory.FrameForWrite(a >> 12);
        if (frame == null)
            memory.WriteUnbacked(a, 4, value);
        else
            *(uint*)(frame + (a & 0xFFF)) = value;
    }

    private static void SetPde(ref WalkRecord walk, ulong pde)
    {
        walk.Pde = (uint)pde;
        walk.PdeHigh = (uint)(pde >> 32);
    }

    private static void SetPte(ref WalkRecord walk, ulong pte)
    {
        walk.Pte = (uint)pte;
        walk.PteHigh = (uint)(pte >> 32);
    }
}

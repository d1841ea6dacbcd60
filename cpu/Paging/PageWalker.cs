namespace MiniHv.Cpu;

/// <summary>
/// The architectural two-level i386 page walk: 4 KiB pages and, with CR4.PSE, 4 MiB pages;
/// U/S and R/W checked with CR0.WP; Accessed and Dirty set as hardware sets them. The walker
/// knows guest-physical addresses only; what backs them is the physical memory's business.
/// </summary>
public static unsafe class PageWalker
{
    public const uint P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;

    /// <summary>Page-fault error code bits.</summary>
    public const int ErrPresent = 1, ErrWrite = 2, ErrUser = 4;

    /// <summary>Error-code bits of PAE paging: a reserved bit was set in an entry (RSVD); the access was an instruction fetch (I/D, with EFER.NXE).</summary>
    public const int ErrReserved = 8, ErrFetch = 16;

    /// <summary>
    /// The architectural walk of <paramref name="linear"/> for <paramref name="access"/>: on success every
    /// level walked is marked Accessed and, for a write, the leaf Dirty, and the record holds what the walk
    /// saw; on failure <see cref="WalkRecord.ErrorCode"/> is the page-fault error code. With CR0.WP clear
    /// (<paramref name="wp"/> false) a supervisor write to a read-only page succeeds.
    /// </summary>
    public static bool Walk(IPhysicalMemory memory, uint cr3, bool pse, bool wp, uint linear, AccessKind access, out WalkRecord walk)
    {
        bool write = (access & AccessKind.Write) != 0;
        bool user = (access & AccessKind.User) != 0;
        int errAccess = (write ? ErrWrite : 0) | (user ? ErrUser : 0);
        walk = default;

        uint pdeAddr = (cr3 & 0xFFFFF000) | ((linear >> 22) << 2);
        uint pde = ReadPhys(memory, pdeAddr);
        walk.PdeAddress = pdeAddr;
        walk.Pde = pde;
        if ((pde & P) == 0)
        {
            walk.ErrorCode = errAccess;
            return false;
        }

        bool large = pse && (pde & PS) != 0;
        walk.Large = large;
        uint pteAddr = 0, pte = 0, perms;
        if (large)
        {
            perms = pde;
        }
        else
        {
            // Used to find the table, so accessed even when the PTE then faults (as QEMU sets it).
            if ((pde & A) == 0)
            {
                pde |= A;
                WritePhys(memory, pdeAddr, pde);
                walk.Pde = pde;
            }

            pteAddr = (pde & 0xFFFFF000) | (((linear >> 12) & 0x3FF) << 2);
            pte = ReadPhys(memory, pteAddr);
            walk.PteAddress = pteAddr;
            walk.Pte = pte;
            if ((pte & P) == 0)
            {
                walk.ErrorCode = errAccess;
                return false;
            }

            perms = pde & pte;
        }

        walk.User = (perms & US) != 0;
        walk.Writable = (perms & RW) != 0;
        bool canWrite = walk.Writable || (!user && !wp);
        if ((user && !walk.User) || (write && !canWrite))
        {
            walk.ErrorCode = errAccess | ErrPresent;
            return false;
        }

        // Accessed on every level walked; Dirty on the leaf only for a write.
        if ((pde & A) == 0 || (large && write && (pde & D) == 0))
        {
            pde |= A;
            if (large && write)
                pde |= D;
            WritePhys(memory, pdeAddr, pde);
            walk.Pde = pde;
        }

        if (large)
        {
            walk.PhysicalPage = (pde & 0xFFC00000) | (linear & 0x003FF000);
            walk.Dirty = (pde & D) != 0;
        }
        else
        {
            if ((pte & A) == 0 || (write && (pte & D) == 0))
            {
                pte |= A;
                if (write)
                    pte |= D;
                WritePhys(memory, pteAddr, pte);
                walk.Pte = pte;
            }

            walk.PhysicalPage = pte & 0xFFFFF000;
            walk.Dirty = (pte & D) != 0;
        }

        return true;
    }

    /// <summary>May an access of this privilege write through the walked page, given CR0.WP?</summary>
    public static bool CanWrite(in WalkRecord walk, bool user, bool wp) => walk.Writable || (!user && !wp);

    /// <summary>Walk for a debugger or dump: no A/D updates, no faults; false when not mapped.</summary>
    public static bool Peek(IPhysicalMemory memory, uint cr3, bool pse, uint linear, out uint physical, out uint flags)
    {
        physical = 0;
        flags = 0;
        uint pde = ReadPhys(memory, (cr3 & 0xFFFFF000) | ((linear >> 22) << 2));
        if ((pde & P) == 0)
            return false;
        if (pse && (pde & PS) != 0)
        {
            physical = (pde & 0xFFC00000) | (linear & 0x003FF000);
            flags = pde & 0xFFF;
            return true;
        }

        uint pte = ReadPhys(memory, (pde & 0xFFFFF000) | (((linear >> 12) & 0x3FF) << 2));
        if ((pte & P) == 0)
            return false;
        physical = pte & 0xFFFFF000;
        flags = (pte & 0xFFF & ~(RW | US)) | (pde & pte & (RW | US));
        return true;
    }

    private static uint ReadPhys(IPhysicalMemory memory, uint address)
    {
        byte* frame = memory.FrameForRead(address >> 12);
        return frame == null ? memory.ReadUnbacked(address, 4) : *(uint*)(frame + (address & 0xFFF));
    }

    private static void WritePhys(IPhysicalMemory memory, uint address, uint value)
    {
        byte* frame = memory.FrameForWrite(address >> 12);
        if (frame == null)
            memory.WriteUnbacked(address, 4, value);
        else
            *(uint*)(frame + (address & 0xFFF)) = value;
    }
}

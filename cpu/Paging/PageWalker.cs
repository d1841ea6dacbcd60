namespace MiniHv.Cpu;

/// <summary>
/// The architectural two-level i386 page walk: 4 KiB pages and, with CR4.PSE, 4 MiB pages;
/// U/S and R/W checked with CR0.WP; Accessed and Dirty set as hardware sets them. The walker
/// knows guest-physical addresses only; what backs them is the physical memory's business.
/// </summary>
internal static unsafe class PageWalker
{
    public const uint P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;

    /// <summary>Page-fault error code bits.</summary>
    public const int ErrPresent = 1, ErrWrite = 2, ErrUser = 4;

    /// <summary>
    /// Translate <paramref name="linear"/>. Returns true with the physical address and whether a
    /// write through this translation would be allowed now (the entry is writable for this access
    /// kind and already dirty); false with the page-fault error code.
    /// </summary>
    public static bool Walk(IPhysicalMemory memory, uint cr3, bool pse, bool wp, uint linear, AccessKind access,
        out uint physical, out bool writeAllowed, out int errorCode)
    {
        bool write = (access & AccessKind.Write) != 0;
        bool user = (access & AccessKind.User) != 0;
        int errAccess = (write ? ErrWrite : 0) | (user ? ErrUser : 0);
        physical = 0;
        writeAllowed = false;

        uint pdeAddr = (cr3 & 0xFFFFF000) | ((linear >> 22) << 2);
        uint pde = ReadPhys(memory, pdeAddr);
        if ((pde & P) == 0)
        {
            errorCode = errAccess;
            return false;
        }

        bool large = pse && (pde & PS) != 0;
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
            }

            pteAddr = (pde & 0xFFFFF000) | (((linear >> 12) & 0x3FF) << 2);
            pte = ReadPhys(memory, pteAddr);
            if ((pte & P) == 0)
            {
                errorCode = errAccess;
                return false;
            }

            perms = pde & pte;
        }

        bool canWrite = (perms & RW) != 0 || (!user && !wp);
        if ((user && (perms & US) == 0) || (write && !canWrite))
        {
            errorCode = errAccess | ErrPresent;
            return false;
        }

        // Accessed on every level walked; Dirty on the leaf only for a write.
        if ((pde & A) == 0 || (large && write && (pde & D) == 0))
        {
            pde |= A;
            if (large && write)
                pde |= D;
            WritePhys(memory, pdeAddr, pde);
        }

        bool dirty;
        if (large)
        {
            physical = (pde & 0xFFC00000) | (linear & 0x003FF000);
            dirty = (pde & D) != 0;
        }
        else
        {
            if ((pte & A) == 0 || (write && (pte & D) == 0))
            {
                pte |= A;
                if (write)
                    pte |= D;
                WritePhys(memory, pteAddr, pte);
            }

            physical = pte & 0xFFFFF000;
            dirty = (pte & D) != 0;
        }

        writeAllowed = canWrite && dirty;
        errorCode = 0;
        return true;
    }

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

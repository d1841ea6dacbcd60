using System.Text;
using MiniHv.Hv.Inspection;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// The QEMU monitor's <c>info mem</c> and <c>info tlb</c> for a 2-level i386 page table, in QEMU 7.2's layout:
/// <c>info mem</c> prints runs of linear addresses with the same user/write rights as
/// <c>start-end size urw</c>; <c>info tlb</c> prints every present mapping as
/// <c>linear: physical XGPDACTUW</c> (NX, global, PSE, dirty, accessed, cache-disable, write-through, user, write).
/// </summary>
internal static class QemuPageInfo
{
    private const uint Present = 1, Write = 2, User = 4, WriteThrough = 8, CacheDisable = 0x10, Accessed = 0x20, Dirty = 0x40,
        LargePage = 0x80, Global = 0x100;

    public static string Mem(uint cr3, bool pse, GuestPhysicalWordReader read)
    {
        var s = new StringBuilder();
        uint runStart = 0, runRights = 0;
        void Visit(ulong address, uint rights)
        {
            if (rights == runRights)
                return;
            if (runRights != 0)
                s.Append($"{runStart:x16}-{address:x16} {address - runStart:x16} {((runRights & User) != 0 ? 'u' : '-')}r{((runRights & Write) != 0 ? 'w' : '-')}\n");
            runStart = (uint)address;
            runRights = rights;
        }

        for (uint pdi = 0; pdi < 1024; pdi++)
        {
            uint linear = pdi << 22;
            read((cr3 & 0xFFFFF000) + pdi * 4, out uint pde);
            if ((pde & Present) == 0)
            {
                Visit(linear, 0);
                continue;
            }

            if (pse && (pde & LargePage) != 0)
            {
                Visit(linear, pde & (User | Write | Present));
                continue;
            }

            for (uint pti = 0; pti < 1024; pti++)
            {
                read((pde & 0xFFFFF000) + pti * 4, out uint pte);
                uint rights = (pte & Present) != 0 ? pte & pde & (User | Write | Present) : 0;
                Visit(linear + (pti << 12), rights);
            }
        }

        Visit(1UL << 32, 0);
        return s.ToString();
    }

    public static string Tlb(uint cr3, bool pse, GuestPhysicalWordReader read)
    {
        var s = new StringBuilder();
        for (uint pdi = 0; pdi < 1024; pdi++)
        {
            read((cr3 & 0xFFFFF000) + pdi * 4, out uint pde);
            if ((pde & Present) == 0)
                continue;
            if (pse && (pde & LargePage) != 0)
            {
                Line(s, pdi << 22, pde, 0xFFC00000);
                continue;
            }

            for (uint pti = 0; pti < 1024; pti++)
            {
                read((pde & 0xFFFFF000) + pti * 4, out uint pte);
                if ((pte & Present) != 0)
                    Line(s, (pdi << 22) | (pti << 12), pte, 0xFFFFF000);
            }
        }

        return s.ToString();
    }

    private static void Line(StringBuilder s, uint linear, uint entry, uint frameMask)
    {
        s.Append($"{linear:x16}: {entry & frameMask:x16} -");
        s.Append((entry & Global) != 0 ? 'G' : '-');
        s.Append((entry & LargePage) != 0 ? 'P' : '-');
        s.Append((entry & Dirty) != 0 ? 'D' : '-');
        s.Append((entry & Accessed) != 0 ? 'A' : '-');
        s.Append((entry & CacheDisable) != 0 ? 'C' : '-');
        s.Append((entry & WriteThrough) != 0 ? 'T' : '-');
        s.Append((entry & User) != 0 ? 'U' : '-');
        s.Append((entry & Write) != 0 ? 'W' : '-');
        s.Append('\n');
    }
}

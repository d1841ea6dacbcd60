using System.Text;

namespace MiniHv.Hv.Inspection;

/// <summary>
/// A guest's PAE page tables as text, laid out as <see cref="PageTableDump"/> lays out two-level ones: for each of
/// the four PDPTE registers (what the CPU translates through, which may differ from the PDPT in memory until the
/// next CR3 load) a line, then one line per run of its page-directory entries (2 MiB pages, or page tables) and,
/// indented, one line per run of pages. Entries are 64-bit: the flag column gains an X for execute-disable (bit 63),
/// and physical addresses may lie above 4 GiB (not RAM). Reads have no side effects and nothing makes it throw.
/// </summary>
public static class PaePageTableDump
{
    private const int Entries = 512;
    private const ulong LargePage = 1 << 21, Quarter = 1ul << 30;
    private const ulong Present = PageTableDump.Present, PageSize = PageTableDump.PageSize;
    private const ulong NoExecute = 1ul << 63, Address = 0x0000_000F_FFFF_F000;

    /// <summary>The dump as a string, lines ending in "\n".</summary>
    /// <param name="cr3">The guest's CR3 (the PDPT's address, shown).</param>
    /// <param name="pdptes">The four PDPTE registers.</param>
    /// <param name="noExecute">EFER.NXE: whether bit 63 means execute-disable (shown in the header).</param>
    public static string Format(uint cr3, IReadOnlyList<ulong> pdptes, bool noExecute, GuestPhysicalWordReader readWord, Func<uint, FrameBacking> backing)
    {
        ArgumentNullException.ThrowIfNull(pdptes);
        ArgumentNullException.ThrowIfNull(readWord);
        ArgumentNullException.ThrowIfNull(backing);
        if (pdptes.Count != 4)
            throw new ArgumentException("PAE has four PDPTEs", nameof(pdptes));
        var text = new StringBuilder();
        var lines = new PageRunWriter(text, backing, FlagText);
        text.Append($"cr3 {cr3:x8}: PAE, PDPT at {cr3 & 0xFFFFFFE0:x8} (the PDPTE registers below), execute-disable {(noExecute ? "on" : "off")}\n");
        text.Append("flags: X execute-disable (bit 63), C copy-on-write (bit 11), G global, S 2 MiB page, D dirty, A accessed, N PCD, T PWT, U user, W writable, P present\n");
        lines.Line("virtual", "entries", "flags", "physical", "backing");
        for (int quarter = 0; quarter < 4; quarter++)
            DumpQuarter(text, lines, quarter, pdptes[quarter], readWord);
        return text.ToString();
    }

    /// <summary>Flags as eleven columns: X, then <see cref="PageTableDump.FlagText"/>'s ten.</summary>
    public static string FlagText(ulong entry) => ((entry & NoExecute) != 0 ? "X" : "-") + PageTableDump.FlagText((uint)entry);

    private static void DumpQuarter(StringBuilder text, PageRunWriter lines, int quarter, ulong pdpte, GuestPhysicalWordReader read)
    {
        ulong start = (ulong)quarter * Quarter;
        string range = PageRunWriter.Range(start, Quarter);
        if ((pdpte & Present) == 0)
        {
            lines.Line(range, $"pdpte {quarter}", "", "not present", "");
            return;
        }

        ulong directory = pdpte & Address;
        bool inRam = TryRead64(read, directory, out _);
        lines.Line(range, $"pdpte {quarter}", "", $"directory {directory:x8}", inRam ? "" : "not RAM");
        if (!inRam)
            return;

        var pdes = new ulong[Entries];
        for (int i = 0; i < Entries; i++)
            pdes[i] = TryRead64(read, directory + ((ulong)i * 8), out ulong e) ? e : 0;

        for (int first = 0; first < Entries; first++)
        {
            ulong pde = pdes[first];
            if ((pde & Present) == 0)
                continue;
            int last = first;
            bool large = (pde & PageSize) != 0;
            if (large)
            {
                while (last + 1 < Entries && (pdes[last + 1] & (Present | PageSize)) == (Present | PageSize) && SameFlags(pdes[last + 1], pde)
                    && LargeFrame(pdes[last + 1]) == LargeFrame(pdes[last]) + LargePage)
                    last++;
                ulong virtualStart = start + ((ulong)first * LargePage), bytes = (ulong)(last - first + 1) * LargePage;
                lines.Line(PageRunWriter.Range(virtualStart, bytes), EntryText(first, last), FlagText(pde), PageRunWriter.Range(LargeFrame(pde), bytes), "");
                for (ulong offset = 0; offset < bytes; offset += PageRunWriter.SmallPage)
                    lines.AddPage(virtualStart + offset, LargeFrame(pde) + offset, Shown(pde));
            }
            else
            {
                bool tableInRam = TryRead64(read, pde & Address, out _);
                while (tableInRam && last + 1 < Entries && (pdes[last + 1] & (Present | PageSize)) == Present && SameFlags(pdes[last + 1], pde)
                    && TryRead64(read, pdes[last + 1] & Address, out _))
                    last++;
                ulong virtualStart = start + ((ulong)first * LargePage), bytes = (ulong)(last - first + 1) * LargePage;
                string tables = first == last ? $"table {pde & Address:x8}" : $"{last - first + 1} tables";
                lines.Line(PageRunWriter.Range(virtualStart, bytes), EntryText(first, last), FlagText(pde), tables, tableInRam ? "" : "not RAM");
                if (tableInRam)
                    Tables(lines, start, pdes, first, last, read);
            }

            lines.EndRun();
            first = last;
        }
    }

    private static void Tables(PageRunWriter lines, ulong start, ulong[] pdes, int first, int last, GuestPhysicalWordReader read)
    {
        for (int pdx = first; pdx <= last; pdx++)
        {
            ulong table = pdes[pdx] & Address;
            for (uint ptx = 0; ptx < Entries; ptx++)
            {
                ulong pte = TryRead64(read, table + (ptx * 8), out ulong e) ? e : 0;
                if ((pte & Present) == 0)
                {
                    lines.EndRun();
                    continue;
                }

                lines.AddPage(start + ((ulong)pdx * LargePage) + ((ulong)ptx << 12), pte & Address, Shown(pte));
            }
        }
    }

    private static ulong Shown(ulong entry) => entry & (PageTableDump.ShownFlags | NoExecute);

    private static bool SameFlags(ulong a, ulong b) => Shown(a) == Shown(b);

    private static ulong LargeFrame(ulong pde) => pde & Address & ~(LargePage - 1);

    private static string EntryText(int first, int last) => first == last ? $"pde {first:x3}" : $"pde {first:x3}-{last:x3}";

    /// <summary>The 64-bit entry at a guest-physical address; false above 4 GiB or where there is no RAM.</summary>
    private static bool TryRead64(GuestPhysicalWordReader read, ulong gpa, out ulong value)
    {
        value = 0;
        if (gpa > uint.MaxValue - 7 || !read((uint)gpa, out uint low) || !read((uint)gpa + 4, out uint high))
            return false;
        value = ((ulong)high << 32) | low;
        return true;
    }
}

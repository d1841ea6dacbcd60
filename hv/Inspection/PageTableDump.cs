using System.Text;

namespace MiniHv.Hv.Inspection;

/// <summary>
/// A guest's two-level i386 page tables as text, in the spirit of the OS-course QEMU's <c>info pg</c>: one line
/// per run of page-directory entries, and under it one line per run of pages whose virtual and physical
/// addresses both follow on, whose flags are equal and whose guest frames have the same backing in machine
/// memory. Reads go through a side-effect-free word reader, so a dump never sets an Accessed bit; and nothing
/// a guest can put in CR3 or its tables makes it throw.
/// </summary>
/// <remarks>
/// A directory line covers consecutive present entries with equal flags: for page tables, its physical column
/// names the table (or how many); for 4 MiB pages (CR4.PSE), the physical range. The indented lines under it
/// show the mapped pages with the flags of their own entry (for a 4 MiB page, the directory entry's). A page is
/// user or writable only when its directory entry is too, as the hardware combines them. A directory entry
/// whose table is not RAM is shown and not walked.
/// </remarks>
public static class PageTableDump
{
    public const uint Present = 1, Writable = 2, User = 4, WriteThrough = 8, CacheDisabled = 0x10, Accessed = 0x20,
        Dirty = 0x40, PageSize = 0x80, Global = 0x100;

    /// <summary>JOS's PTE_COW: available bit 11, set by the guest's fork on pages it shares copy-on-write.</summary>
    public const uint CopyOnWrite = 0x800;

    /// <summary>The bits a line shows and runs compare: the others (available bits 9 and 10) are ignored.</summary>
    public const uint ShownFlags = Present | Writable | User | WriteThrough | CacheDisabled | Accessed | Dirty | PageSize | Global | CopyOnWrite;

    private const int Entries = 1024;
    private const ulong SmallPage = PageRunWriter.SmallPage, LargePage = 1 << 22;

    /// <summary>The dump as a string, lines ending in "\n".</summary>
    /// <param name="cr3">The guest's CR3: the page directory is at its top 20 bits.</param>
    /// <param name="pse">CR4.PSE: directory entries with PS set map 4 MiB pages; otherwise PS is ignored.</param>
    /// <param name="readWord">Reads guest-physical words without side effects.</param>
    /// <param name="backing">What backs each guest frame (for a guest's RAM: <see cref="GuestMemoryInspection.Backing"/>).</param>
    public static string Format(uint cr3, bool pse, GuestPhysicalWordReader readWord, Func<uint, FrameBacking> backing)
    {
        var output = new StringWriter();
        Write(output, cr3, pse, readWord, backing);
        return output.ToString();
    }

    /// <summary>The dump, written to <paramref name="output"/>.</summary>
    public static void Write(TextWriter output, uint cr3, bool pse, GuestPhysicalWordReader readWord, Func<uint, FrameBacking> backing)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(readWord);
        ArgumentNullException.ThrowIfNull(backing);
        var text = new StringBuilder();
        new Walk(text, pse, readWord, backing).Run(cr3);
        output.Write(text.ToString());
    }

    /// <summary>Flags as ten columns, high bit first: C G S D A N T U W P, a dash where clear.</summary>
    public static string FlagText(uint entry)
    {
        Span<char> c = stackalloc char[10];
        c[0] = (entry & CopyOnWrite) != 0 ? 'C' : '-';
        c[1] = (entry & Global) != 0 ? 'G' : '-';
        c[2] = (entry & PageSize) != 0 ? 'S' : '-';
        c[3] = (entry & Dirty) != 0 ? 'D' : '-';
        c[4] = (entry & Accessed) != 0 ? 'A' : '-';
        c[5] = (entry & CacheDisabled) != 0 ? 'N' : '-';
        c[6] = (entry & WriteThrough) != 0 ? 'T' : '-';
        c[7] = (entry & User) != 0 ? 'U' : '-';
        c[8] = (entry & Writable) != 0 ? 'W' : '-';
        c[9] = (entry & Present) != 0 ? 'P' : '-';
        return new string(c);
    }

    /// <summary>One dump in progress: the directory, then each run of entries.</summary>
    private sealed class Walk
    {
        private readonly StringBuilder _text;
        private readonly bool _pse;
        private readonly GuestPhysicalWordReader _read;
        private readonly PageRunWriter _lines;

        public Walk(StringBuilder text, bool pse, GuestPhysicalWordReader read, Func<uint, FrameBacking> backing)
        {
            _text = text;
            _pse = pse;
            _read = read;
            _lines = new PageRunWriter(text, backing, flags => FlagText((uint)flags));
        }

        public void Run(uint cr3)
        {
            uint directory = cr3 & 0xFFFFF000;
            _text.Append($"cr3 {cr3:x8}: page directory at {directory:x8}, 4 MiB pages {(_pse ? "on" : "off")}\n");
            if (!_read(directory, out _))
            {
                _text.Append($"the page directory at {directory:x8} is not RAM\n");
                return;
            }

            _text.Append("flags: C copy-on-write (bit 11), G global, S 4 MiB page, D dirty, A accessed, N PCD, T PWT, U user, W writable, P present\n");
            Line("virtual", "entries", "flags", "physical", "backing");

            var pdes = new uint[Entries];
            for (int i = 0; i < Entries; i++)
                pdes[i] = ReadOrZero(directory + ((uint)i * 4));

            bool any = false;
            for (int first = 0; first < Entries; first++)
            {
                uint pde = pdes[first];
                if ((pde & Present) == 0)
                    continue;
                any = true;
                int last = first;
                if (IsLarge(pde))
                {
                    while (last + 1 < Entries && IsLarge(pdes[last + 1]) && SameFlags(pdes[last + 1], pde)
                        && LargeFrame(pdes[last + 1]) == LargeFrame(pdes[last]) + LargePage)
                        last++;
                    LargePages(pdes, first, last);
                }
                else
                {
                    bool inRam = _read(pde & 0xFFFFF000, out _);
                    while (inRam && last + 1 < Entries && IsTable(pdes[last + 1]) && SameFlags(pdes[last + 1], pde)
                        && _read(pdes[last + 1] & 0xFFFFF000, out _))
                        last++;
                    Tables(pdes, first, last, inRam);
                }

                first = last;
            }

            if (!any)
                _text.Append("(no present page-directory entries)\n");
        }

        private bool IsLarge(uint pde) => (pde & Present) != 0 && _pse && (pde & PageSize) != 0;

        private bool IsTable(uint pde) => (pde & Present) != 0 && !IsLarge(pde);

        private static bool SameFlags(uint a, uint b) => (a & ShownFlags) == (b & ShownFlags);

        private static ulong LargeFrame(uint pde) => pde & 0xFFC00000;

        /// <summary>Directory entries <paramref name="first"/>..<paramref name="last"/>, 4 MiB pages one after another.</summary>
        private void LargePages(uint[] pdes, int first, int last)
        {
            uint pde = pdes[first];
            ulong virtualStart = (ulong)first << 22;
            ulong physicalStart = LargeFrame(pde);
            ulong bytes = (ulong)(last - first + 1) * LargePage;
            Line(Range(virtualStart, bytes), EntryText(first, last), FlagText(pde), Range(physicalStart, bytes), "");
            for (ulong offset = 0; offset < bytes; offset += SmallPage)
                AddPage(virtualStart + offset, physicalStart + offset, pde & ShownFlags);
            EndRun();
        }

        /// <summary>Directory entries <paramref name="first"/>..<paramref name="last"/>, each pointing at a page table.</summary>
        private void Tables(uint[] pdes, int first, int last, bool inRam)
        {
            uint pde = pdes[first];
            ulong virtualStart = (ulong)first << 22;
            ulong bytes = (ulong)(last - first + 1) * LargePage;
            string tables = first == last ? $"table {pde & 0xFFFFF000:x8}" : $"{last - first + 1} tables";
            Line(Range(virtualStart, bytes), EntryText(first, last), FlagText(pde), tables, inRam ? "" : "not RAM");
            if (!inRam)
                return;
            for (int pdx = first; pdx <= last; pdx++)
            {
                uint table = pdes[pdx] & 0xFFFFF000;
                for (uint ptx = 0; ptx < Entries; ptx++)
                {
                    uint pte = ReadOrZero(table + (ptx * 4));
                    if ((pte & Present) == 0)
                    {
                        EndRun();
                        continue;
                    }

                    AddPage(((ulong)pdx << 22) | ((ulong)ptx << 12), pte & 0xFFFFF000, pte & ShownFlags);
                }
            }

            EndRun();
        }

        private uint ReadOrZero(uint gpa) => _read(gpa, out uint word) ? word : 0;

        private void Line(string linear, string entries, string flags, string physical, string backing)
            => _lines.Line(linear, entries, flags, physical, backing);

        private void AddPage(ulong linear, ulong physical, uint flags) => _lines.AddPage(linear, physical, flags);

        private void EndRun() => _lines.EndRun();

        private static string Range(ulong start, ulong bytes) => PageRunWriter.Range(start, bytes);

        private static string EntryText(int first, int last) => first == last ? $"pde {first:x3}" : $"pde {first:x3}-{last:x3}";
    }
}

using System.Buffers.Binary;
using System.IO.Hashing;

namespace MiniHv.Cli.Experiments;

/// <summary>
/// A build of libshared.so as the guest kernel carries it (guests/kern/mklibs.sh puts it page-aligned in the
/// kernel image): its pages as the kernel's loader maps them from the file, so that frames holding them can be
/// told by their bytes, and which of its pages every load must relocate.
/// </summary>
internal sealed class LibraryImage
{
    private const int Page = 4096;
    private const uint PtLoad = 1, PtDynamic = 2, PfW = 2;
    private const int DtRel = 17, DtRelSz = 18, DtJmpRel = 23, DtPltRelSz = 2, DtTextRel = 22, DtFlags = 30, DfTextRel = 4;

    private readonly HashSet<UInt128> _pageHashes = new();

    private LibraryImage(bool textRelocations, int readOnlyPages, int writablePages, int relocatedReadOnlyPages, int relocatedWritablePages)
    {
        TextRelocations = textRelocations;
        ReadOnlyPages = readOnlyPages;
        WritablePages = writablePages;
        RelocatedReadOnlyPages = relocatedReadOnlyPages;
        RelocatedWritablePages = relocatedWritablePages;
    }

    /// <summary>True for the non-PIC build: relocations write its read-only segment (DT_TEXTREL).</summary>
    public bool TextRelocations { get; }

    /// <summary>Pages of the read-only segment (headers, text, read-only data).</summary>
    public int ReadOnlyPages { get; }

    /// <summary>Pages of the writable segment (GOT, data, bss).</summary>
    public int WritablePages { get; }

    /// <summary>Read-only pages a relocation writes: each load gets private copies of these.</summary>
    public int RelocatedReadOnlyPages { get; }

    /// <summary>Writable pages a relocation writes: private in each load from the start.</summary>
    public int RelocatedWritablePages { get; }

    /// <summary>All the pages a load maps.</summary>
    public int Pages => ReadOnlyPages + WritablePages;

    /// <summary>True when <paramref name="frame"/> holds exactly one of the library's pages as the file has it (not relocated).</summary>
    public bool HoldsFilePage(ReadOnlySpan<byte> frame) => _pageHashes.Contains(XxHash128.HashToUInt128(frame));

    /// <summary>The one build of libshared.so a kernel image carries (page-aligned ELF shared objects in it); an error if not exactly one.</summary>
    public static LibraryImage FromKernel(ReadOnlySpan<byte> kernel)
    {
        var found = new List<int>();
        for (int off = 0; off + 52 <= kernel.Length; off += Page)
        {
            if (kernel[off] == 0x7F && kernel[off + 1] == (byte)'E' && kernel[off + 2] == (byte)'L' && kernel[off + 3] == (byte)'F'
                && U16(kernel, off + 16) == 3 && U16(kernel, off + 18) == 3)
                found.Add(off);
        }

        if (found.Count != 1)
            throw new InvalidDataException($"the kernel image carries {found.Count} shared objects, not one: not a shared-object experiment kernel");
        return Parse(kernel[found[0]..]);
    }

    /// <summary>Reads a shared object from its first byte (what follows its end is read as the guest's loader would see it).</summary>
    public static LibraryImage Parse(ReadOnlySpan<byte> so)
    {
        int phoff = (int)U32(so, 28), phentsize = U16(so, 42), phnum = U16(so, 44);
        long size = U32(so, 32) + ((long)U16(so, 46) * U16(so, 48)); // e_shoff + e_shentsize * e_shnum: ld writes them last
        var loads = new List<(uint Offset, uint Vaddr, uint FileSize, uint MemSize, bool Writable)>();
        uint dynamic = 0;
        for (int i = 0; i < phnum; i++)
        {
            int ph = phoff + (i * phentsize);
            uint type = U32(so, ph);
            if (type == PtLoad)
                loads.Add((U32(so, ph + 4), U32(so, ph + 8), U32(so, ph + 16), U32(so, ph + 20), (U32(so, ph + 24) & PfW) != 0));
            else if (type == PtDynamic)
                dynamic = U32(so, ph + 4);
        }

        uint FileOffset(uint va)
        {
            foreach (var l in loads)
            {
                if (va >= l.Vaddr && va < l.Vaddr + l.FileSize)
                    return l.Offset + (va - l.Vaddr);
            }

            throw new InvalidDataException($"address {va:x8} is not in the file");
        }

        // Which pages relocations write, as guests/kern/shlib.c marks them (a word may straddle two).
        uint rel = 0, relSize = 0, jmpRel = 0, pltRelSize = 0;
        bool textRel = false;
        for (int d = (int)dynamic; ; d += 8)
        {
            int tag = (int)U32(so, d);
            uint value = U32(so, d + 4);
            if (tag == 0)
                break;
            switch (tag)
            {
                case DtRel: rel = value; break;
                case DtRelSz: relSize = value; break;
                case DtJmpRel: jmpRel = value; break;
                case DtPltRelSz: pltRelSize = value; break;
                case DtTextRel: textRel = true; break;
                case DtFlags: textRel |= (value & DfTextRel) != 0; break;
            }
        }

        var relocated = new HashSet<uint>();
        foreach (var (start, bytes) in new[] { (rel, relSize), (jmpRel, pltRelSize) })
        {
            if (bytes == 0)
                continue;
            int at = (int)FileOffset(start);
            for (int i = 0; i < bytes / 8; i++)
            {
                uint va = U32(so, at + (i * 8));
                relocated.Add(va / Page);
                relocated.Add((va + 3) / Page);
            }
        }

        int ro = 0, rw = 0, roRelocated = 0, rwRelocated = 0;
        var pages = new List<byte[]>();
        foreach (var l in loads)
        {
            for (uint off = 0; off < l.MemSize; off += Page)
            {
                uint pn = (l.Vaddr + off) / Page;
                bool isRelocated = relocated.Contains(pn);
                if (l.Writable)
                {
                    rw++;
                    rwRelocated += isRelocated ? 1 : 0;
                }
                else
                {
                    ro++;
                    roRelocated += isRelocated ? 1 : 0;
                }

                // The loader maps the file page itself (so it can be recognised) under the same conditions.
                bool asFile = (off + Page <= l.FileSize || (l.MemSize == l.FileSize && off < l.FileSize)) && l.Offset + off + Page <= size;
                if (asFile && l.Offset + off + Page <= so.Length)
                    pages.Add(so.Slice((int)(l.Offset + off), Page).ToArray());
            }
        }

        var image = new LibraryImage(textRel, ro, rw, roRelocated, rwRelocated);
        foreach (byte[] p in pages)
        {
            if (p.AsSpan().IndexOfAnyExcept((byte)0) >= 0)
                image._pageHashes.Add(XxHash128.HashToUInt128(p));
        }

        return image;
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}

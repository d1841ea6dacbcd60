using System.Buffers.Binary;

namespace MiniHv.Hv.Loader;

/// <summary>A validated multiboot v1 kernel image: where its bytes go in guest-physical memory and where it starts.</summary>
/// <remarks>
/// Parsed the way <c>qemu-system-i386 -kernel</c> reads an image: the first multiboot header (magic
/// 0x1BADB002 with a matching checksum, 4-byte aligned, within the first 8192 bytes) decides. With flag
/// bit 16 set its address fields say what to load (the a.out kludge, any file format); otherwise the
/// file must be an ELF32 i386 executable and its PT_LOAD segments are loaded at their physical addresses.
/// Every offset and size from the file is checked with 64-bit arithmetic before use, so a malformed
/// image gives an <see cref="InvalidImageException"/> and nothing else.
/// </remarks>
public sealed class MultibootImage
{
    public const uint HeaderMagic = 0x1BAD_B002;

    /// <summary>The multiboot header must lie within this many bytes from the start of the file.</summary>
    public const int HeaderSearchBytes = 8192;

    /// <summary>Header flag bit 16: the header's address fields describe the load (the a.out kludge).</summary>
    public const uint AddressFieldsFlag = 1u << 16;

    private const int MultibootHeaderBytes = 12;
    private const int AddressFieldsEnd = 32;


    private MultibootImage(ReadOnlyMemory<byte> bytes, int headerOffset, uint headerFlags, uint entryPoint, LoadSegment[] segments)
    {
        Bytes = bytes;
        HeaderOffset = headerOffset;
        HeaderFlags = headerFlags;
        EntryPoint = entryPoint;
        Segments = segments;
        LowAddress = segments.Min(s => s.PhysicalAddress);
        EndAddress = segments.Max(s => s.End);
    }

    /// <summary>The image file's bytes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>File offset of the multiboot header.</summary>
    public int HeaderOffset { get; }

    /// <summary>The multiboot header's flags.</summary>
    public uint HeaderFlags { get; }

    /// <summary>True when the header's address fields (flag bit 16) placed the image rather than ELF program headers.</summary>
    public bool UsesAddressFields => (HeaderFlags & AddressFieldsFlag) != 0;

    /// <summary>Physical address of the first instruction.</summary>
    public uint EntryPoint { get; }

    /// <summary>What to load, by physical address, none empty and none overlapping.</summary>
    public IReadOnlyList<LoadSegment> Segments { get; }

    /// <summary>The lowest physical address the kernel occupies.</summary>
    public uint LowAddress { get; }

    /// <summary>The first physical address after the kernel, bss included.</summary>
    public long EndAddress { get; }

    /// <summary>Validates <paramref name="image"/> as a multiboot kernel.</summary>
    /// <exception cref="InvalidImageException">The image is empty, malformed, truncated or not multiboot.</exception>
    public static MultibootImage Parse(ReadOnlyMemory<byte> image)
    {
        ReadOnlySpan<byte> file = image.Span;
        if (file.Length == 0)
            throw new InvalidImageException("the image is empty (0 bytes)");

        int headerOffset = FindHeader(file, out uint flags);
        LoadSegment[] segments;
        uint entry;
        if ((flags & AddressFieldsFlag) != 0)
            segments = [ParseAddressFields(file, headerOffset, out entry)];
        else
            segments = ParseElf(file, out entry);
        return new MultibootImage(image, headerOffset, flags, entry, segments);
    }

    /// <summary>Offset of the first multiboot header whose checksum holds.</summary>
    private static int FindHeader(ReadOnlySpan<byte> file, out uint flags)
    {
        int limit = Math.Min(file.Length, HeaderSearchBytes) - MultibootHeaderBytes;
        int badChecksumAt = -1;
        uint badSum = 0;
        for (int i = 0; i <= limit; i += 4)
        {
            if (U32(file, i) != HeaderMagic)
                continue;
            flags = U32(file, i + 4);
            uint sum = HeaderMagic + flags + U32(file, i + 8);
            if (sum == 0)
                return i;
            if (badChecksumAt < 0)
            {
                badChecksumAt = i;
                badSum = sum;
            }
        }

        if (badChecksumAt >= 0)
            throw new InvalidImageException(
                $"the multiboot header at file offset 0x{badChecksumAt:x} has a bad checksum (magic + flags + checksum = 0x{badSum:x8}, must be 0)");
        if (Elf32File.HasMagic(file) && file.Length > 4 && file[4] == 2 /* ELFCLASS64 */)
            throw new InvalidImageException(
                "64-bit ELF image without a multiboot header: MiniHv boots 32-bit multiboot v1 kernels");
        throw new InvalidImageException(
            $"no multiboot header (magic 0x{HeaderMagic:X8}, 4-byte aligned) in the first {Math.Min(file.Length, HeaderSearchBytes)} bytes: not a multiboot kernel");
    }

    /// <summary>The a.out kludge: the header says which file bytes go where, and where to start.</summary>
    private static LoadSegment ParseAddressFields(ReadOnlySpan<byte> file, int headerOffset, out uint entry)
    {
        if ((long)headerOffset + AddressFieldsEnd > file.Length)
            throw new InvalidImageException(
                $"truncated multiboot header: flag bit 16 needs its address fields up to file offset 0x{headerOffset + AddressFieldsEnd:x}, but the file ends at 0x{file.Length:x}");

        uint headerAddr = U32(file, headerOffset + 12);
        uint loadAddr = U32(file, headerOffset + 16);
        uint loadEndAddr = U32(file, headerOffset + 20);
        uint bssEndAddr = U32(file, headerOffset + 24);
        entry = U32(file, headerOffset + 28);

        if (headerAddr < loadAddr)
            throw new InvalidImageException(
                $"multiboot header_addr 0x{headerAddr:x} is below load_addr 0x{loadAddr:x}");
        uint headerDistance = headerAddr - loadAddr;
        if (headerDistance > (uint)headerOffset)
            throw new InvalidImageException(
                $"multiboot header_addr - load_addr is 0x{headerDistance:x}, more than the header's file offset 0x{headerOffset:x}: the load would start before the file");
        uint textOffset = (uint)headerOffset - headerDistance;

        long loadSize;
        if (loadEndAddr != 0)
        {
            if (loadEndAddr < loadAddr)
                throw new InvalidImageException(
                    $"multiboot load_end_addr 0x{loadEndAddr:x} is below load_addr 0x{loadAddr:x}");
            loadSize = loadEndAddr - loadAddr;
        }
        else
        {
            loadSize = file.Length - textOffset;
        }
        if (textOffset + loadSize > file.Length)
            throw new InvalidImageException(
                $"truncated image: the multiboot header loads 0x{loadSize:x} bytes from file offset 0x{textOffset:x}, but the file ends at 0x{file.Length:x}");
        if (loadAddr + loadSize > 1L << 32)
            throw new InvalidImageException(
                $"the multiboot load range from 0x{loadAddr:x} (0x{loadSize:x} bytes) runs past 4 GiB");

        long memorySize = loadSize;
        if (bssEndAddr != 0)
        {
            if (bssEndAddr < loadAddr + loadSize)
                throw new InvalidImageException(
                    $"multiboot bss_end_addr 0x{bssEndAddr:x} is below the end of the loaded data 0x{loadAddr + loadSize:x}");
            memorySize = bssEndAddr - loadAddr;
        }
        if (memorySize == 0)
            throw new InvalidImageException("the multiboot header's address fields load nothing (load_end_addr = load_addr, no bss)");

        return new LoadSegment(loadAddr, textOffset, (uint)loadSize, (uint)memorySize);
    }

    /// <summary>An ELF32 i386 executable: its PT_LOAD segments by physical address.</summary>
    private static LoadSegment[] ParseElf(ReadOnlySpan<byte> file, out uint entry)
    {
        if (!Elf32File.HasMagic(file))
            throw new InvalidImageException(
                "not an ELF file, and the multiboot header does not give load addresses (flag bit 16 clear)");
        Elf32File.CheckHeader(file, allowShared: false);
        uint elfEntry = Elf32File.Entry(file);
        entry = elfEntry;
        var segments = new List<LoadSegment>();
        foreach (ElfProgramHeader ph in Elf32File.LoadSegments(file))
        {
            if ((long)ph.PhysicalAddress + ph.MemorySize > 1L << 32)
                throw new InvalidImageException(
                    $"ELF segment {ph.Index} at physical 0x{ph.PhysicalAddress:x} (0x{ph.MemorySize:x} bytes) runs past 4 GiB");
            segments.Add(new LoadSegment(ph.PhysicalAddress, ph.Offset, ph.FileSize, ph.MemorySize, ph.Executable, ph.Writable));

            // Like QEMU: an entry given as a virtual address inside an executable segment linked at a
            // different physical address is moved to that physical address.
            if (ph.VirtualAddress != ph.PhysicalAddress && ph.Executable
                && elfEntry >= ph.VirtualAddress && (long)elfEntry < (long)ph.VirtualAddress + ph.FileSize)
                entry = elfEntry - ph.VirtualAddress + ph.PhysicalAddress;
        }

        if (segments.Count == 0)
            throw new InvalidImageException("the ELF image has no loadable (PT_LOAD) segments");
        segments.Sort((a, b) => a.PhysicalAddress.CompareTo(b.PhysicalAddress));
        for (int i = 1; i < segments.Count; i++)
        {
            if (segments[i].PhysicalAddress < segments[i - 1].End)
                throw new InvalidImageException(
                    $"ELF segments overlap in physical memory: {segments[i - 1]} and {segments[i]}");
        }
        return [.. segments];
    }


    private static uint U32(ReadOnlySpan<byte> file, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(file.Slice(offset, 4));

    private static ushort U16(ReadOnlySpan<byte> file, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(offset, 2));
}

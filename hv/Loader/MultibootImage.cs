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

    private const int ElfHeaderBytes = 52;
    private const int ElfProgramHeaderBytes = 32;
    private const byte ElfClass32 = 1, ElfClass64 = 2;
    private const byte ElfDataLittle = 1, ElfDataBig = 2;
    private const ushort ElfTypeExecutable = 2;
    private const ushort MachineI386 = 3, MachineX86_64 = 62;
    private const uint ProgramLoad = 1;
    private const uint ProgramFlagExecute = 1;

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
        if (IsElf(file) && file.Length > 4 && file[4] == ElfClass64)
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
        if (!IsElf(file))
            throw new InvalidImageException(
                "not an ELF file, and the multiboot header does not give load addresses (flag bit 16 clear)");
        if (file.Length < ElfHeaderBytes)
            throw new InvalidImageException(
                $"truncated ELF header: the file has {file.Length} bytes, an ELF32 header needs {ElfHeaderBytes}");

        byte elfClass = file[4];
        ushort machine = U16(file, 18);
        if (elfClass == ElfClass64 || machine == MachineX86_64)
            throw new InvalidImageException(
                "64-bit ELF image (x86-64): give a 32-bit i386 kernel (ELFCLASS32, EM_386)");
        if (elfClass != ElfClass32)
            throw new InvalidImageException($"unknown ELF class {elfClass} (ELFCLASS32 = 1 expected)");
        if (file[5] == ElfDataBig)
            throw new InvalidImageException("big-endian ELF image: i386 kernels are little-endian (ELFDATA2LSB)");
        if (file[5] != ElfDataLittle)
            throw new InvalidImageException($"unknown ELF data encoding {file[5]} (ELFDATA2LSB = 1 expected)");
        if (machine != MachineI386)
            throw new InvalidImageException($"ELF machine {machine} is not i386 (EM_386 = 3)");
        ushort type = U16(file, 16);
        if (type != ElfTypeExecutable)
            throw new InvalidImageException($"ELF type {type} is not an executable (ET_EXEC = 2)");

        uint elfEntry = U32(file, 24);
        uint phOffset = U32(file, 28);
        ushort phEntrySize = U16(file, 42);
        ushort phCount = U16(file, 44);
        if (phCount == 0)
            throw new InvalidImageException("the ELF image has no program headers");
        if (phEntrySize != ElfProgramHeaderBytes)
            throw new InvalidImageException(
                $"ELF program header entries are {phEntrySize} bytes, ELF32 has {ElfProgramHeaderBytes}");
        long tableEnd = (long)phOffset + (long)phCount * ElfProgramHeaderBytes;
        if (tableEnd > file.Length)
            throw new InvalidImageException(
                $"truncated program headers: {phCount} entries at file offset 0x{phOffset:x} end at 0x{tableEnd:x}, but the file ends at 0x{file.Length:x}");

        entry = elfEntry;
        var segments = new List<LoadSegment>();
        for (int i = 0; i < phCount; i++)
        {
            int ph = (int)phOffset + i * ElfProgramHeaderBytes;
            if (U32(file, ph) != ProgramLoad)
                continue;
            uint offset = U32(file, ph + 4);
            uint vaddr = U32(file, ph + 8);
            uint paddr = U32(file, ph + 12);
            uint fileSize = U32(file, ph + 16);
            uint memorySize = U32(file, ph + 20);
            uint phFlags = U32(file, ph + 24);
            if (memorySize == 0)
                continue;   // QEMU skips empty segments too.
            if (fileSize > memorySize)
                throw new InvalidImageException(
                    $"ELF segment {i}: p_filesz 0x{fileSize:x} is larger than p_memsz 0x{memorySize:x}");
            if ((long)offset + fileSize > file.Length)
                throw new InvalidImageException(
                    $"truncated segment data: ELF segment {i} needs file bytes 0x{offset:x}-0x{(long)offset + fileSize:x}, but the file ends at 0x{file.Length:x}");
            if ((long)paddr + memorySize > 1L << 32)
                throw new InvalidImageException(
                    $"ELF segment {i} at physical 0x{paddr:x} (0x{memorySize:x} bytes) runs past 4 GiB");
            segments.Add(new LoadSegment(paddr, offset, fileSize, memorySize, (phFlags & ProgramFlagExecute) != 0, (phFlags & 2) != 0));

            // Like QEMU: an entry given as a virtual address inside an executable segment linked at a
            // different physical address is moved to that physical address.
            if (vaddr != paddr && (phFlags & ProgramFlagExecute) != 0
                && elfEntry >= vaddr && (long)elfEntry < (long)vaddr + fileSize)
                entry = elfEntry - vaddr + paddr;
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

    private static bool IsElf(ReadOnlySpan<byte> file)
        => file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    private static uint U32(ReadOnlySpan<byte> file, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(file.Slice(offset, 4));

    private static ushort U16(ReadOnlySpan<byte> file, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(offset, 2));
}

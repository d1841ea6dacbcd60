using System.Buffers.Binary;
using System.Text;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Loader;

/// <summary>Boots a multiboot v1 kernel into guest RAM the way <c>qemu-system-i386 -kernel</c> does.</summary>
/// <remarks>
/// Guest-physical layout after a load, as QEMU 7.2 (hw/i386/multiboot.c and its option ROM) leaves it:
/// <code>
///   0x009000  memory map (e820 entries, 24 bytes each)
///   0x009500  multiboot information (88 bytes)                     EBX
///   low       kernel segments, zeros in gaps and bss               low = lowest load address
///   info      after the kernel, page aligned: the command line,
///             then the boot loader name                          info = low + align4k(end - low)
/// </code>
/// The memory map is SeaBIOS's: conventional memory up to 0x9FC00 (the EBDA's 1 KiB reserved above it),
/// the BIOS at 0xF0000 reserved, RAM from 1 MiB available except its top 128 KiB (SeaBIOS's tables), and
/// the flash at 0xFFFC0000 reserved. mem_lower and mem_upper follow from it (639 KiB, and the available
/// KiB above 1 MiB). These match what the test kernels record under QEMU for 1.5 MiB to 3 GiB of RAM.
/// </remarks>
public static class MultibootLoader
{
    /// <summary>EAX at kernel entry.</summary>
    public const uint BootloaderMagic = 0x2BAD_B002;

    /// <summary>The boot loader name the kernel finds in the multiboot information.</summary>
    public const string BootloaderName = "minihv";

    /// <summary>Where the memory map goes (QEMU's ADDR_E820_MAP).</summary>
    public const uint MemoryMapAddress = 0x9000;

    /// <summary>Where the multiboot information goes (QEMU's ADDR_MBI): EBX at entry.</summary>
    public const uint InfoAddress = 0x9500;

    /// <summary>Size of the multiboot information structure written (through the boot loader name field and the rest QEMU zeroes).</summary>
    public const int InfoBytes = 88;

    /// <summary>The smallest guest RAM a multiboot boot accepts.</summary>
    public const long MinimumRamBytes = 2L << 20;

    // Multiboot information flags QEMU sets: memory, boot device, command line, modules, memory map, loader name.
    private const uint InfoFlags = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9);
    private const uint BootDevice = 0x8000_FFFF;
    private const int MapEntryBytes = 24;
    private const uint PageSize = 4096;

    private const ulong ConventionalEnd = 0x9FC00;
    private const ulong BiosStart = 0xF0000;
    private const ulong HighMemoryStart = 0x10_0000;
    private const ulong FirmwareTablesBytes = 0x2_0000;
    private const ulong FlashStart = 0xFFFC_0000;

    /// <summary>The multiboot command line QEMU builds from <c>-kernel PATH -append TEXT</c>: the path as given, a space, the text.</summary>
    public static string QemuCommandLine(string imagePath, string append) => $"{imagePath} {append}";

    /// <summary>The memory map a guest with <paramref name="ramBytes"/> of RAM finds in its multiboot information.</summary>
    public static IReadOnlyList<MemoryMapEntry> MemoryMap(long ramBytes)
    {
        CheckRamSize(ramBytes);
        ulong ram = (ulong)ramBytes;
        ulong tables = ram - FirmwareTablesBytes;
        return
        [
            new(0, ConventionalEnd, MemoryMapEntry.Available),
            new(ConventionalEnd, 0xA0000 - ConventionalEnd, MemoryMapEntry.Reserved),
            new(BiosStart, HighMemoryStart - BiosStart, MemoryMapEntry.Reserved),
            new(HighMemoryStart, tables - HighMemoryStart, MemoryMapEntry.Available),
            new(tables, FirmwareTablesBytes, MemoryMapEntry.Reserved),
            new(FlashStart, (1UL << 32) - FlashStart, MemoryMapEntry.Reserved),
        ];
    }

    /// <summary>mem_lower: KiB of conventional memory below the EBDA.</summary>
    public static uint MemLowerKiB => (uint)(ConventionalEnd >> 10);

    /// <summary>mem_upper: KiB of available RAM from 1 MiB up to the first hole.</summary>
    public static uint MemUpperKiB(long ramBytes)
    {
        CheckRamSize(ramBytes);
        return (uint)(((ulong)ramBytes - FirmwareTablesBytes - HighMemoryStart) >> 10);
    }

    /// <summary>Reads a kernel image file and loads it with QEMU's command line "PATH APPEND".</summary>
    /// <exception cref="InvalidImageException">The file cannot be read, or is not a kernel this guest can boot.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool ran out of frames while loading.</exception>
    public static KernelEntry LoadFile(GuestPhysicalMemory memory, string imagePath, string append)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(imagePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidImageException($"cannot read kernel image '{imagePath}': {e.Message}", e);
        }
        return Load(memory, bytes, QemuCommandLine(imagePath, append));
    }

    /// <summary>Validates and loads <paramref name="image"/>, with <paramref name="commandLine"/> passed verbatim.</summary>
    /// <exception cref="InvalidImageException">The image is malformed, not multiboot, or does not fit the guest.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool ran out of frames while loading.</exception>
    public static KernelEntry Load(GuestPhysicalMemory memory, ReadOnlyMemory<byte> image, string commandLine)
        => Load(memory, MultibootImage.Parse(image), commandLine);

    /// <summary>Loads an already validated image, checking first that it and its multiboot information fit the guest.</summary>
    /// <exception cref="InvalidImageException">The image does not fit the guest.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool ran out of frames while loading.</exception>
    public static KernelEntry Load(GuestPhysicalMemory memory, MultibootImage image, string commandLine)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(commandLine);

        long ram = memory.RamBytes;
        if (ram < MinimumRamBytes)
            throw new InvalidImageException(
                $"the guest's {ram >> 10} KiB of RAM is too small to boot a multiboot kernel (at least {MinimumRamBytes >> 20} MiB)");

        byte[] cmdline = NulTerminated(commandLine);
        byte[] loaderName = NulTerminated(BootloaderName);
        long low = image.LowAddress;
        long infoStart = low + AlignUp(image.EndAddress - low);
        long stringsEnd = infoStart + cmdline.Length + loaderName.Length;
        long loadEnd = low + AlignUp(stringsEnd - low);

        CheckFits(image, ram, infoStart, stringsEnd, loadEnd);
        if (image.EntryPoint >= ram)
            throw new InvalidImageException(
                $"the entry point 0x{image.EntryPoint:x} is outside the guest's RAM (0x0-0x{ram - 1:x})");

        // Nothing can fail from here on but running out of machine memory.
        memory.Fill((uint)low, loadEnd - low, 0);
        ReadOnlySpan<byte> file = image.Bytes.Span;
        foreach (LoadSegment s in image.Segments)
            memory.Write(s.PhysicalAddress, file.Slice((int)s.FileOffset, (int)s.FileSize));

        uint cmdlineAddress = (uint)infoStart;
        uint loaderNameAddress = cmdlineAddress + (uint)cmdline.Length;
        memory.Write(cmdlineAddress, cmdline);
        memory.Write(loaderNameAddress, loaderName);
        WriteInfo(memory, ram, cmdlineAddress, loaderNameAddress, modulesAddress: (uint)infoStart);

        return new KernelEntry(image.EntryPoint, InfoAddress, image.LowAddress, (uint)image.EndAddress, cmdlineAddress);
    }

    private static void CheckFits(MultibootImage image, long ram, long infoStart, long stringsEnd, long loadEnd)
    {
        long kernelBytes = image.Segments.Sum(s => (long)s.MemorySize);
        if (kernelBytes > ram)
            throw new InvalidImageException(
                $"the kernel needs {KiB(kernelBytes)} KiB of memory but the guest has only {KiB(ram)} KiB of RAM");

        long infoAreaEnd = InfoAddress + InfoBytes;
        foreach (LoadSegment s in image.Segments)
        {
            if (s.End > ram)
                throw new InvalidImageException(
                    $"segment {s} lies outside the guest's RAM (0x0-0x{ram - 1:x})");
            if (s.PhysicalAddress < infoAreaEnd && s.End > MemoryMapAddress)
                throw new InvalidImageException(
                    $"segment {s} overlaps the multiboot information area 0x{MemoryMapAddress:x}-0x{infoAreaEnd - 1:x}");
        }

        if (loadEnd > ram)
            throw new InvalidImageException(
                $"the kernel and its command line need memory up to 0x{loadEnd - 1:x}, beyond the guest's RAM (0x0-0x{ram - 1:x})");
        if (infoStart < infoAreaEnd && stringsEnd > MemoryMapAddress)
            throw new InvalidImageException(
                $"the command line after the kernel (0x{infoStart:x}-0x{stringsEnd - 1:x}) overlaps the multiboot information area 0x{MemoryMapAddress:x}-0x{infoAreaEnd - 1:x}");
    }

    private static void WriteInfo(GuestPhysicalMemory memory, long ram, uint cmdlineAddress, uint loaderNameAddress, uint modulesAddress)
    {
        IReadOnlyList<MemoryMapEntry> map = MemoryMap(ram);
        Span<byte> mapBytes = stackalloc byte[map.Count * MapEntryBytes];
        for (int i = 0; i < map.Count; i++)
        {
            Span<byte> e = mapBytes.Slice(i * MapEntryBytes, MapEntryBytes);
            BinaryPrimitives.WriteUInt32LittleEndian(e, MapEntryBytes - 4);   // size, not counting itself
            BinaryPrimitives.WriteUInt64LittleEndian(e[4..], map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[12..], map[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[20..], map[i].Type);
        }

        Span<byte> info = stackalloc byte[InfoBytes];
        info.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(info[0..], InfoFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(info[4..], MemLowerKiB);
        BinaryPrimitives.WriteUInt32LittleEndian(info[8..], MemUpperKiB(ram));
        BinaryPrimitives.WriteUInt32LittleEndian(info[12..], BootDevice);
        BinaryPrimitives.WriteUInt32LittleEndian(info[16..], cmdlineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(info[20..], 0);                 // mods_count
        BinaryPrimitives.WriteUInt32LittleEndian(info[24..], modulesAddress);    // mods_addr
        BinaryPrimitives.WriteUInt32LittleEndian(info[44..], (uint)mapBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(info[48..], MemoryMapAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(info[64..], loaderNameAddress);

        memory.Fill(MemoryMapAddress, InfoAddress + InfoBytes - MemoryMapAddress, 0);
        memory.Write(MemoryMapAddress, mapBytes);
        memory.Write(InfoAddress, info);
    }

    private static void CheckRamSize(long ramBytes)
    {
        if (ramBytes < MinimumRamBytes || ramBytes > GuestPhysicalMemory.MaxRamBytes)
            throw new ArgumentOutOfRangeException(nameof(ramBytes), ramBytes,
                $"a multiboot guest has {MinimumRamBytes >> 20} MiB to {GuestPhysicalMemory.MaxRamBytes >> 20} MiB of RAM");
    }

    private static byte[] NulTerminated(string text)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static long AlignUp(long bytes) => (bytes + PageSize - 1) & ~(long)(PageSize - 1);

    private static long KiB(long bytes) => (bytes + 1023) >> 10;
}

using System.Buffers.Binary;
using System.Text;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Loader;

/// <summary>Boots a Linux bzImage with an optional initrd through the 32-bit boot protocol, as <c>qemu-system-i386 -kernel bzImage -initrd FILE -append TEXT</c> starts one.</summary>
/// <remarks>
/// QEMU runs the kernel's real-mode setup, which asks the BIOS for the memory map and enters the protected-mode
/// code; MiniHv has no BIOS services and does the setup's part itself (Documentation/arch/x86/boot.rst, "32-bit
/// boot protocol"). Guest-physical layout after a load:
/// <code>
///   0x007000  zero page (struct boot_params, 4 KiB)              ESI
///   0x008000  GDT: null, null, __BOOT_CS 0x10, __BOOT_DS 0x18   (flat 4 GiB code and data)
///   0x020000  command line, at most cmdline_size + 1 bytes
///   load      protected-mode code: pref_address for a relocatable kernel when it fits, else code32_start
///   initrd    page aligned, as high as initrd_addr_max and the top of available RAM allow, above load + init_size
/// </code>
/// The zero page holds the file's setup header (0x1F1 up to 0x202 + the byte at 0x201) with type_of_loader 0xFF
/// (no assigned id), code32_start, cmd_line_ptr, ramdisk_image and ramdisk_size filled in, alt_mem_k, and the
/// e820 map: the same map <see cref="MultibootLoader.MemoryMap"/> gives a multiboot kernel, so both kinds of guest
/// see the same PC.
/// </remarks>
public static class BzImageLoader
{
    public const uint ZeroPageAddress = 0x7000;
    public const uint GdtAddress = 0x8000;
    public const uint CommandLineAddress = 0x2_0000;

    /// <summary>type_of_loader for a boot loader without an id assigned (boot.rst).</summary>
    public const byte LoaderTypeUndefined = 0xFF;

    /// <summary>The lowest address protected-mode code may be loaded at: everything below 1 MiB is the boot data's and the BIOS's.</summary>
    public const uint LowestLoadAddress = 0x10_0000;

    // Zero page offsets (struct boot_params).
    private const int AltMemK = 0x1E0;
    private const int E820Entries = 0x1E8;
    private const int TypeOfLoader = 0x210;
    private const int Code32StartField = 0x214;
    private const int RamdiskImage = 0x218;
    private const int RamdiskSize = 0x21C;
    private const int CmdLinePtr = 0x228;
    private const int E820Table = 0x2D0;
    private const int E820EntryBytes = 20;
    private const int ZeroPageBytes = 4096;

    private const uint PageSize = 4096;
    private const ulong FlatCode = 0x00CF_9A00_0000_FFFF;
    private const ulong FlatData = 0x00CF_9200_0000_FFFF;

    /// <summary>Validates and loads <paramref name="image"/>; <paramref name="commandLine"/> reaches the kernel verbatim (as QEMU's -append does).</summary>
    /// <exception cref="InvalidImageException">The image is not a bootable bzImage, or it, its command line or its initrd do not fit the guest.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool ran out of frames while loading.</exception>
    public static LinuxEntry Load(GuestPhysicalMemory memory, ReadOnlyMemory<byte> image, string commandLine, ReadOnlyMemory<byte>? initrd)
        => Load(memory, BzImage.Parse(image), commandLine, initrd);

    /// <summary>Loads an already validated bzImage, checking first that everything fits.</summary>
    /// <exception cref="InvalidImageException">The kernel, its command line or its initrd do not fit the guest.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool ran out of frames while loading.</exception>
    public static LinuxEntry Load(GuestPhysicalMemory memory, BzImage image, string commandLine, ReadOnlyMemory<byte>? initrd)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(commandLine);

        long ram = memory.RamBytes;
        if (ram < MultibootLoader.MinimumRamBytes)
            throw new InvalidImageException(
                $"the guest's {ram >> 10} KiB of RAM is too small to boot Linux (at least {MultibootLoader.MinimumRamBytes >> 20} MiB)");
        IReadOnlyList<MemoryMapEntry> map = MultibootLoader.MemoryMap(ram);
        long availableTop = (long)AvailableTop(map);

        byte[] cmdline = Encoding.UTF8.GetBytes(commandLine + "\0");
        if (cmdline.Length - 1 > image.CommandLineSize)
            throw new InvalidImageException(
                $"the command line is {cmdline.Length - 1} bytes; this kernel reads at most {image.CommandLineSize} (cmdline_size)");
        if (CommandLineAddress + cmdline.Length > LowestLoadAddress)
            throw new InvalidImageException($"the command line is {cmdline.Length - 1} bytes, more than fits below 1 MiB");

        uint load = LoadAddress(image, availableTop);
        long kernelEnd = load + (long)image.InitSize;
        int initrdBytes = initrd?.Length ?? 0;
        uint initrdAddress = initrdBytes == 0 ? 0 : InitrdAddress(image, initrdBytes, kernelEnd, availableTop);

        // Nothing can fail from here on but running out of machine memory.
        ReadOnlySpan<byte> file = image.Bytes.Span;
        memory.Write(load, file.Slice(image.ProtectedModeOffset, image.ProtectedModeBytes));
        if (initrdBytes > 0)
            memory.Write(initrdAddress, initrd!.Value.Span);
        memory.Write(CommandLineAddress, cmdline);
        WriteGdt(memory);
        WriteZeroPage(memory, image, map, ram, load, initrdAddress, (uint)initrdBytes);
        return new LinuxEntry(load, ZeroPageAddress, GdtAddress, (uint)kernelEnd, CommandLineAddress, initrdAddress, (uint)initrdBytes);
    }

    /// <summary>The end of the highest available RAM range: the kernel and initrd stay below it.</summary>
    private static ulong AvailableTop(IReadOnlyList<MemoryMapEntry> map)
        => map.Where(e => e.Type == MemoryMapEntry.Available).Max(e => e.Base + e.Length);

    private static uint LoadAddress(BzImage image, long availableTop)
    {
        // A relocatable kernel loaded at pref_address need not move itself before decompressing.
        if (image.Relocatable && image.PreferredAddress is ulong preferred && preferred >= LowestLoadAddress
            && (long)preferred + image.InitSize <= availableTop)
            return (uint)preferred;

        uint load = image.Code32Start;
        if (load < LowestLoadAddress)
            throw new InvalidImageException(
                $"code32_start 0x{load:x} is below 1 MiB, where the boot data and the BIOS areas lie");
        if (load + (long)image.InitSize > availableTop)
            throw new InvalidImageException(
                $"the kernel needs 0x{load:x}-0x{load + (long)image.InitSize - 1:x} (code32_start + init_size) but the guest's available RAM ends at 0x{availableTop - 1:x}; give it more memory (-m)");
        return load;
    }

    private static uint InitrdAddress(BzImage image, int bytes, long kernelEnd, long availableTop)
    {
        long ceiling = Math.Min((long)image.InitrdAddressMax + 1, availableTop);
        long address = (ceiling - bytes) & ~(long)(PageSize - 1);
        if (address < kernelEnd)
            throw new InvalidImageException(
                $"the initrd is {KiB(bytes)} KiB, too big for the guest's RAM: between the kernel's end 0x{kernelEnd:x} and 0x{ceiling:x} (the lower of the top of available RAM and initrd_addr_max + 1) there are {KiB(Math.Max(0, ceiling - kernelEnd))} KiB");
        return (uint)address;
    }

    private static void WriteGdt(GuestPhysicalMemory memory)
    {
        Span<byte> gdt = stackalloc byte[LinuxEntry.GdtLimit + 1];
        gdt.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[LinuxEntry.BootCs..], FlatCode);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[LinuxEntry.BootDs..], FlatData);
        memory.Write(GdtAddress, gdt);
    }

    private static void WriteZeroPage(GuestPhysicalMemory memory, BzImage image, IReadOnlyList<MemoryMapEntry> map, long ram,
        uint load, uint initrdAddress, uint initrdBytes)
    {
        Span<byte> page = stackalloc byte[ZeroPageBytes];
        page.Clear();
        image.Bytes.Span[0x1F1..image.SetupHeaderEnd].CopyTo(page[0x1F1..]);
        page[TypeOfLoader] = LoaderTypeUndefined;
        BinaryPrimitives.WriteUInt32LittleEndian(page[Code32StartField..], load);
        BinaryPrimitives.WriteUInt32LittleEndian(page[RamdiskImage..], initrdAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(page[RamdiskSize..], initrdBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(page[CmdLinePtr..], CommandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(page[AltMemK..], MultibootLoader.MemUpperKiB(ram));

        page[E820Entries] = (byte)map.Count;
        for (int i = 0; i < map.Count; i++)
        {
            Span<byte> e = page.Slice(E820Table + i * E820EntryBytes, E820EntryBytes);
            BinaryPrimitives.WriteUInt64LittleEndian(e, map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], map[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], map[i].Type);
        }

        memory.Write(ZeroPageAddress, page);
    }

    private static long KiB(long bytes) => (bytes + 1023) >> 10;
}

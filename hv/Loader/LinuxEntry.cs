namespace MiniHv.Hv.Loader;

/// <summary>
/// How the CPU enters a loaded bzImage through the 32-bit boot protocol: protected mode, paging and interrupts off,
/// CS = __BOOT_CS (0x10) and the data segments __BOOT_DS (0x18), both flat, from the GDT at <see cref="GdtAddress"/>;
/// EIP at the protected-mode code, ESI at the zero page, EBP, EDI and EBX zero.
/// </summary>
/// <param name="EntryPoint">Where the protected-mode code was loaded, and its first instruction (EIP).</param>
/// <param name="ZeroPageAddress">The boot_params the kernel reads (ESI).</param>
/// <param name="GdtAddress">The GDT holding the boot segments.</param>
/// <param name="KernelEnd">The first address after the memory the kernel needs at entry (load address + init_size).</param>
/// <param name="CommandLineAddress">The NUL-terminated command line (cmd_line_ptr).</param>
/// <param name="InitrdAddress">Where the initrd starts (ramdisk_image), 0 for none.</param>
/// <param name="InitrdBytes">The initrd's size (ramdisk_size), 0 for none.</param>
public sealed record LinuxEntry(uint EntryPoint, uint ZeroPageAddress, uint GdtAddress, uint KernelEnd, uint CommandLineAddress,
    uint InitrdAddress, uint InitrdBytes)
{
    /// <summary>__BOOT_CS: the flat code selector.</summary>
    public const ushort BootCs = 0x10;

    /// <summary>__BOOT_DS: the flat data selector, in DS, ES, SS (and FS, GS).</summary>
    public const ushort BootDs = 0x18;

    /// <summary>GDTR's limit: four 8-byte descriptors (two null, code, data).</summary>
    public const ushort GdtLimit = 4 * 8 - 1;
}

namespace MiniHv.Hv.Loader;

/// <summary>
/// How the CPU enters a loaded multiboot kernel: flat 32-bit protected mode, paging off, EIP at the entry
/// point, EAX holding the bootloader magic and EBX the multiboot information's address.
/// </summary>
/// <param name="EntryPoint">Physical address of the first instruction (EIP).</param>
/// <param name="MultibootInfoAddress">Physical address of the multiboot information (EBX).</param>
/// <param name="KernelStart">Lowest physical address the kernel occupies.</param>
/// <param name="KernelEnd">First physical address after the kernel, bss included.</param>
/// <param name="CommandLineAddress">Physical address of the NUL-terminated command line.</param>
public sealed record KernelEntry(uint EntryPoint, uint MultibootInfoAddress, uint KernelStart, uint KernelEnd, uint CommandLineAddress)
{
    /// <summary>The value EAX holds at entry: 0x2BADB002.</summary>
    public uint Eax => MultibootLoader.BootloaderMagic;

    /// <summary>The value EBX holds at entry: the multiboot information's address.</summary>
    public uint Ebx => MultibootInfoAddress;
}

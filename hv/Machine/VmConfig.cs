using MiniHv.Hv.Faults;

namespace MiniHv.Hv.Machine;

/// <summary>Everything needed to create one guest: its image, command line, memory and limits.</summary>
public sealed record VmConfig
{
    public const long DefaultMemoryBytes = 128L << 20;

    /// <summary>Guest instructions per virtual second: the rate the PIT and RTC see time pass at.</summary>
    public const long DefaultInstructionsPerSecond = 100_000_000;

    public required string Name { get; init; }

    /// <summary>The guest's number in its run (1, 2, ...), for logs.</summary>
    public int Id { get; init; } = 1;

    /// <summary>Which faults the fault log writes out (all are counted); null for every guest fault and no hidden ones.</summary>
    public FaultLogPolicy? FaultPolicy { get; init; }

    /// <summary>The kernel: a multiboot ELF image or a Linux bzImage, told apart by the bzImage's setup header (unused with <see cref="BootFromDisk"/>).</summary>
    public required ReadOnlyMemory<byte> Image { get; init; }

    /// <summary>The whole command line, as the kernel will find it (QEMU's is "PATH APPEND" for multiboot, the -append text alone for Linux).</summary>
    public string CommandLine { get; init; } = "";

    /// <summary>The initial ramdisk a bzImage finds in ramdisk_image and ramdisk_size (QEMU's <c>-initrd</c>), or null for none.</summary>
    public ReadOnlyMemory<byte>? Initrd { get; init; }

    public long MemoryBytes { get; init; } = DefaultMemoryBytes;

    /// <summary>The most machine memory the guest may hold privately (shared frames do not count); null for no limit but the pool's.</summary>
    public long? MemoryCapBytes { get; init; }

    /// <summary>Stop the guest after this many instructions; null for no limit.</summary>
    public long? MaxInstructions { get; init; }

    /// <summary>Stop the guest after this much host time; null for no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    public long InstructionsPerSecond { get; init; } = DefaultInstructionsPerSecond;

    /// <summary>The guest's salt group under the salted sharing policy: guests share frames only with guests of the same salt.</summary>
    public string? Salt { get; init; }

    /// <summary>
    /// The guest's memory shares under overcommit (ESX's shares): the balloon policy reclaims from guests in inverse
    /// proportion to shares per frame. Null for ESX's "normal", 10 per MiB of the guest's RAM, so that guests of any
    /// size are treated alike by default.
    /// </summary>
    public long? Shares { get; init; }

    /// <summary>The shares the balloon policy uses: <see cref="Shares"/>, or 10 per MiB of RAM.</summary>
    public long EffectiveShares => Shares ?? Math.Max(1, 10 * (MemoryBytes >> 20));

    /// <summary>Shadow page tables, or the plain walk for comparison.</summary>
    public PagingMode Paging { get; init; } = PagingMode.Shadow;

    /// <summary>
    /// Guests compile their hot blocks unless told otherwise: the block compiler runs CPU-bound and multi-guest
    /// work two to four times faster than the interpreter alone (docs/performance.md, "Block compiler as the default").
    /// </summary>
    public const MiniHv.Cpu.CpuTier DefaultTier = MiniHv.Cpu.CpuTier.Jit;

    /// <summary>Interpret guest code only, or compile hot blocks too (<c>--cpu</c>).</summary>
    public MiniHv.Cpu.CpuTier Tier { get; init; } = DefaultTier;

    /// <summary>The primary IDE channel's master drive (QEMU's <c>-hda</c>), or null for none.</summary>
    public DiskImage? PrimaryMaster { get; init; }

    /// <summary>The primary IDE channel's slave drive (QEMU's <c>-hdb</c>), or null for none.</summary>
    public DiskImage? PrimarySlave { get; init; }

    /// <summary>
    /// Boot as a BIOS would, from the master drive's sector 0 loaded at 0x7C00 and run in real mode with DL = 0x80,
    /// instead of from the multiboot <see cref="Image"/> (which is then not used and may be empty).
    /// </summary>
    public bool BootFromDisk { get; init; }

    /// <summary>The most processors a guest may have (QEMU's and the MP table's limit for this machine is higher; ours is the shadow MMU's).</summary>
    public const int MaxProcessors = 16;

    /// <summary>Processors (QEMU's <c>-smp N</c>): the first is the boot processor, the others wait for INIT and STARTUP IPIs.</summary>
    public int Processors { get; init; } = 1;

    /// <summary>CPUID without the x87 FPU (a 386 or 486SX without a coprocessor): x87 instructions raise #UD, or #NM with CR0.EM.</summary>
    public bool HideFpu { get; init; }
}

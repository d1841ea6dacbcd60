using System.Buffers.Binary;

namespace MiniHv.Hv.Loader;

/// <summary>A validated Linux bzImage: its setup header's fields and where its protected-mode code lies in the file.</summary>
/// <remarks>
/// Read as Documentation/arch/x86/boot.rst describes the file: <c>setup_sects</c> 512-byte sectors of real-mode
/// setup after the boot sector, the setup header at 0x1F1 (boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, the
/// protocol version at 0x206), then the protected-mode code, <c>syssize</c> 16-byte paragraphs of it. MiniHv
/// never runs the real-mode setup: it enters the protected-mode code through the 32-bit boot protocol, which
/// protocol 2.07 (Linux 2.6.24) is the first to define, so older kernels are refused. Every offset and size is
/// checked before use, so a malformed image gives an <see cref="InvalidImageException"/> and nothing else.
/// </remarks>
public sealed class BzImage
{
    /// <summary>The oldest boot protocol that defines the 32-bit entry (boot_params at ESI, __BOOT_CS/__BOOT_DS).</summary>
    public const ushort MinimumProtocol = 0x0207;

    /// <summary>"HdrS" read as a little-endian word.</summary>
    public const uint HeaderSignature = 0x5372_6448;

    public const ushort BootFlag = 0xAA55;

    /// <summary>loadflags bit 0: the protected-mode code is loaded at 1 MiB (a bzImage, not a zImage).</summary>
    public const byte LoadedHigh = 1 << 0;

    /// <summary>xloadflags bit 0 (protocol 2.12): the kernel is x86-64 and has the 64-bit entry point.</summary>
    public const ushort XlfKernel64 = 1 << 0;

    /// <summary>initrd_addr_max for kernels older than protocol 2.03, which lack the field.</summary>
    public const uint DefaultInitrdAddressMax = 0x37FF_FFFF;

    /// <summary>The command line's maximum length (without its NUL) for kernels older than protocol 2.06.</summary>
    public const uint DefaultCommandLineSize = 255;

    /// <summary>Where the setup header ends at the most: the zero page's next field (edd_mbr_sig_buffer) starts here.</summary>
    public const int SetupHeaderLimit = 0x290;

    private const int SectorBytes = 512;

    private BzImage(ReadOnlyMemory<byte> bytes)
    {
        Bytes = bytes;
    }

    /// <summary>The image file's bytes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The boot protocol version, major in the high byte (0x020F is 2.15).</summary>
    public ushort Protocol { get; private init; }

    /// <summary>Real-mode setup sectors after the boot sector (setup_sects, 0 read as 4).</summary>
    public int SetupSectors { get; private init; }

    /// <summary>File offset of the protected-mode code.</summary>
    public int ProtectedModeOffset => (SetupSectors + 1) * SectorBytes;

    /// <summary>Bytes of protected-mode code to load.</summary>
    public int ProtectedModeBytes { get; private init; }

    /// <summary>code32_start: where a non-relocatable kernel's protected-mode code must be loaded.</summary>
    public uint Code32Start { get; private init; }

    /// <summary>relocatable_kernel (protocol 2.05): the code runs wherever it is loaded, at kernel_alignment.</summary>
    public bool Relocatable { get; private init; }

    /// <summary>pref_address (protocol 2.10): where a relocatable kernel prefers to be loaded, or null.</summary>
    public ulong? PreferredAddress { get; private init; }

    /// <summary>init_size (protocol 2.10): bytes from the load address the kernel needs before it sets up its own memory, or the code's size.</summary>
    public uint InitSize { get; private init; }

    /// <summary>initrd_addr_max: the highest address the initrd's last byte may have.</summary>
    public uint InitrdAddressMax { get; private init; }

    /// <summary>cmdline_size: the longest command line (without its NUL) the kernel reads.</summary>
    public uint CommandLineSize { get; private init; }

    /// <summary>The file offset after the setup header, as boot.rst computes it (0x202 plus the jump's byte at 0x201), capped by the zero page's layout.</summary>
    public int SetupHeaderEnd { get; private init; }

    /// <summary>The kernel version string the header points to (kernel_version), or null when it has none.</summary>
    public string? KernelVersion { get; private init; }

    /// <summary>
    /// True when the file looks like a Linux kernel, so it should be loaded, or refused, as one: the setup header's
    /// "HdrS", or a boot sector's 0xAA55 in a file that is neither ELF nor carries a multiboot header.
    /// </summary>
    public static bool LooksLikeLinux(ReadOnlySpan<byte> file)
    {
        if (file.Length >= 0x206 && BinaryPrimitives.ReadUInt32LittleEndian(file[0x202..]) == HeaderSignature)
            return true;
        bool elf = file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';
        return !elf && file.Length >= 0x200 && BinaryPrimitives.ReadUInt16LittleEndian(file[0x1FE..]) == BootFlag
            && !HasMultibootHeader(file);
    }

    // A multiboot header: its magic with a checksum that makes magic + flags + checksum zero, 4-byte aligned, in the first 8 KiB.
    private static bool HasMultibootHeader(ReadOnlySpan<byte> file)
    {
        int end = Math.Min(file.Length, MultibootImage.HeaderSearchBytes) - 12;
        for (int at = 0; at <= end; at += 4)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file[at..]) == MultibootImage.HeaderMagic
                && MultibootImage.HeaderMagic + U32(file, at + 4) + U32(file, at + 8) == 0)
                return true;
        }

        return false;
    }

    /// <summary>Validates a Linux kernel image for the 32-bit boot protocol.</summary>
    /// <exception cref="InvalidImageException">Truncated, without the setup header, too old a protocol, a zImage, or 64-bit.</exception>
    public static BzImage Parse(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> f = bytes.Span;
        if (f.Length < SetupHeaderLimit)
            throw new InvalidImageException(
                $"truncated Linux kernel image: {f.Length} bytes, too short for the boot sector and setup header (0x{SetupHeaderLimit:x})");
        if (BinaryPrimitives.ReadUInt32LittleEndian(f[0x202..]) != HeaderSignature)
            throw new InvalidImageException(
                "not a bzImage: no setup header signature 'HdrS' at 0x202 (a kernel before boot protocol 2.00, or not a kernel)");
        if (BinaryPrimitives.ReadUInt16LittleEndian(f[0x1FE..]) != BootFlag)
            throw new InvalidImageException(
                $"not a bzImage: the boot flag at 0x1fe is 0x{BinaryPrimitives.ReadUInt16LittleEndian(f[0x1FE..]):x4}, not 0xaa55");

        ushort protocol = U16(f, 0x206);
        if (protocol < MinimumProtocol)
            throw new InvalidImageException(
                $"the kernel speaks boot protocol {ProtocolText(protocol)}; MiniHv boots through the 32-bit boot protocol, which needs {ProtocolText(MinimumProtocol)} or later (Linux 2.6.24)");
        if ((f[0x211] & LoadedHigh) == 0)
            throw new InvalidImageException("a zImage (protected-mode code loaded low, at 0x10000): MiniHv boots bzImages only");

        int setupSectors = f[0x1F1] == 0 ? 4 : f[0x1F1];
        int pmOffset = (setupSectors + 1) * SectorBytes;
        long fileEnd = f.Length;
        int headerEnd = Math.Min(0x202 + f[0x201], SetupHeaderLimit);
        if (headerEnd > fileEnd || pmOffset > fileEnd)
            throw new InvalidImageException(
                $"truncated bzImage: {fileEnd} bytes, but its {setupSectors} setup sectors end at 0x{pmOffset:x}");

        // syssize counts 16-byte paragraphs (4 bytes wide from protocol 2.04).
        long pmBytes = U32(f, 0x1F4) * 16L;
        if (pmBytes == 0 || pmOffset + pmBytes > fileEnd)
        {
            if (pmBytes != 0)
                throw new InvalidImageException(
                    $"truncated bzImage: the header says {pmBytes} bytes of protected-mode code after offset 0x{pmOffset:x}, but the file has {fileEnd - pmOffset}");
            pmBytes = fileEnd - pmOffset;
        }

        if (pmBytes == 0)
            throw new InvalidImageException("truncated bzImage: no protected-mode code after the setup sectors");
        ushort xloadflags = protocol >= 0x020C ? U16(f, 0x236) : (ushort)0;
        if ((xloadflags & XlfKernel64) != 0)
            throw new InvalidImageException(
                "a 64-bit (x86-64) kernel: MiniHv's CPU is an i386 without long mode; build the kernel for i386 (ARCH=i386)");

        bool relocatable = f[0x234] != 0;
        ulong? preferred = protocol >= 0x020A && headerEnd >= 0x260 ? BinaryPrimitives.ReadUInt64LittleEndian(f[0x258..]) : null;
        uint initSize = protocol >= 0x020A && headerEnd >= 0x264 ? U32(f, 0x260) : 0;
        return new BzImage(bytes)
        {
            Protocol = protocol,
            SetupSectors = setupSectors,
            ProtectedModeBytes = (int)pmBytes,
            Code32Start = U32(f, 0x214),
            Relocatable = relocatable,
            PreferredAddress = preferred,
            InitSize = Math.Max(initSize, (uint)pmBytes),
            InitrdAddressMax = protocol >= 0x0203 ? U32(f, 0x22C) : DefaultInitrdAddressMax,
            CommandLineSize = protocol >= 0x0206 ? U32(f, 0x238) : DefaultCommandLineSize,
            SetupHeaderEnd = headerEnd,
            KernelVersion = VersionString(f, U16(f, 0x20E)),
        };
    }

    /// <summary>"2.15" for 0x020F.</summary>
    public static string ProtocolText(ushort protocol) => $"{protocol >> 8}.{protocol & 0xFF:D2}";

    // kernel_version is an offset from 0x200 to a NUL-terminated string inside the setup sectors.
    private static string? VersionString(ReadOnlySpan<byte> f, ushort pointer)
    {
        int start = pointer + 0x200;
        if (pointer == 0 || start >= f.Length)
            return null;
        int length = f[start..].IndexOf((byte)0);
        if (length <= 0)
            return null;
        return System.Text.Encoding.ASCII.GetString(f.Slice(start, Math.Min(length, 200)));
    }

    private static ushort U16(ReadOnlySpan<byte> f, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(f[offset..]);

    private static uint U32(ReadOnlySpan<byte> f, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(f[offset..]);
}

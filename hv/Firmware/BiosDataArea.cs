using System.Buffers.Binary;

namespace MiniHv.Hv.Firmware;

/// <summary>The words of the BIOS data area at 0x400 that kernels read: the serial and parallel port bases, the EBDA segment and the base memory size.</summary>
/// <remarks>
/// The values are SeaBIOS's for a PC with one serial and one parallel port: base memory 639 KiB with the
/// 1 KiB extended BIOS data area (EBDA) above it at 0x9FC00, which the multiboot memory map reserves. The
/// EBDA's first byte is its size in KiB, as a BIOS leaves it; the MP tables live after it.
/// <code>
/// 0x400  4 words  COM1-COM4 I/O base (0 for absent ports)
/// 0x408  3 words  LPT1-LPT3 I/O base
/// 0x40E  word     EBDA segment (physical address / 16)
/// 0x413  word     base memory in KiB, up to the EBDA
/// </code>
/// </remarks>
public static class BiosDataArea
{
    public const uint SerialPortsAddress = 0x400;
    public const uint ParallelPortsAddress = 0x408;
    public const uint EbdaSegmentAddress = 0x40E;
    public const uint BaseMemoryKiBAddress = 0x413;

    public const uint EbdaAddress = 0x9FC00;
    public const ushort EbdaSegment = (ushort)(EbdaAddress >> 4);
    public const ushort BaseMemoryKiB = (ushort)(EbdaAddress >> 10);

    /// <summary>Writes the BIOS data area words and the EBDA's size byte through <paramref name="writePhysical"/>.</summary>
    /// <param name="writePhysical">Writes bytes to guest physical memory at an address.</param>
    /// <param name="com1Port">COM1's I/O base, or 0 for none.</param>
    /// <param name="lpt1Port">LPT1's I/O base, or 0 for none.</param>
    public static void Write(Action<uint, ReadOnlySpan<byte>> writePhysical, ushort com1Port = 0x3F8, ushort lpt1Port = 0x378)
    {
        ArgumentNullException.ThrowIfNull(writePhysical);
        Span<byte> serial = stackalloc byte[8];
        serial.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(serial, com1Port);
        writePhysical(SerialPortsAddress, serial);

        Span<byte> parallel = stackalloc byte[6];
        parallel.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(parallel, lpt1Port);
        writePhysical(ParallelPortsAddress, parallel);

        Span<byte> word = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(word, EbdaSegment);
        writePhysical(EbdaSegmentAddress, word);
        BinaryPrimitives.WriteUInt16LittleEndian(word, BaseMemoryKiB);
        writePhysical(BaseMemoryKiBAddress, word);

        ReadOnlySpan<byte> ebdaKiB = [(byte)((0xA0000 - EbdaAddress) >> 10)];
        writePhysical(EbdaAddress, ebdaKiB);
    }
}

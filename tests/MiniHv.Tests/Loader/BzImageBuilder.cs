using System.Buffers.Binary;
using System.Text;

namespace MiniHv.Tests.Loader;

/// <summary>
/// A bzImage file made in the test: a boot sector and setup sectors carrying a real setup header (boot flag,
/// "HdrS", protocol version and the fields the 32-bit boot protocol reads), then <see cref="Payload"/> as the
/// protected-mode code. Nothing runs the real-mode part, so the setup sectors are otherwise zeros.
/// </summary>
internal sealed class BzImageBuilder
{
    public ushort Protocol { get; set; } = 0x020F;
    public int SetupSectors { get; set; } = 1;
    public byte LoadFlags { get; set; } = 0x01;
    public uint Code32Start { get; set; } = 0x100000;
    public bool Relocatable { get; set; }
    public ulong PreferredAddress { get; set; }
    public uint InitSize { get; set; } = 0x10000;
    public uint InitrdAddressMax { get; set; } = 0x37FF_FFFF;
    public uint CommandLineSize { get; set; } = 2047;
    public ushort XLoadFlags { get; set; }
    public ushort BootFlagValue { get; set; } = 0xAA55;
    public uint Signature { get; set; } = 0x5372_6448;

    /// <summary>syssize in 16-byte paragraphs; null for the payload's size rounded up.</summary>
    public uint? SysSize { get; set; }

    public byte[] Payload { get; set; } = [0xF4];

    /// <summary>Where the setup header ends for this protocol version (0x202 + the jump's byte).</summary>
    public int HeaderEnd => Protocol >= 0x020F ? 0x26C : Protocol >= 0x020A ? 0x264 : 0x240;

    public byte[] Build()
    {
        int pmOffset = (SetupSectors + 1) * 512;
        int pmBytes = (Payload.Length + 15) & ~15;
        var f = new byte[pmOffset + pmBytes];
        Payload.CopyTo(f, pmOffset);
        f[0x1F1] = (byte)SetupSectors;
        W32(f, 0x1F4, SysSize ?? (uint)(pmBytes / 16));
        W16(f, 0x1FE, BootFlagValue);
        f[0x200] = 0xEB;                                // jmp short over the header, as a real setup does
        f[0x201] = (byte)(HeaderEnd - 0x202);
        W32(f, 0x202, Signature);
        W16(f, 0x206, Protocol);
        W16(f, 0x20E, 0x100);                           // kernel_version at 0x300
        Encoding.ASCII.GetBytes("6.1.0-minihv-test (tiny)").CopyTo(f, 0x300);
        f[0x211] = LoadFlags;
        W32(f, 0x214, Code32Start);
        W32(f, 0x22C, InitrdAddressMax);
        W32(f, 0x230, 0x1000);                          // kernel_alignment
        f[0x234] = (byte)(Relocatable ? 1 : 0);
        W16(f, 0x236, XLoadFlags);
        W32(f, 0x238, CommandLineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(0x258), PreferredAddress);
        W32(f, 0x260, InitSize);
        return f;
    }

    private static void W16(byte[] f, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(offset), value);

    private static void W32(byte[] f, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(offset), value);
}

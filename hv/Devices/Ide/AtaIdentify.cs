using System.Buffers.Binary;

namespace MiniHv.Hv.Devices.Ide;

/// <summary>The 256 words IDENTIFY DEVICE returns for a MiniHv hard disk.</summary>
/// <remarks>
/// <code>
/// 0       0x0040  fixed (non-removable) ATA device
/// 1, 3, 6 default geometry: cylinders (at most 16383), 16 heads, 63 sectors per track
/// 10-19   serial number, 20 ASCII characters
/// 23-26   firmware revision, 8 characters
/// 27-46   model number, 40 characters
/// 47      0x8000  READ/WRITE MULTIPLE not supported
/// 49      0x0200  LBA supported (no DMA)
/// 50      0x4000
/// 51      0x0200  PIO mode 2 timing
/// 53      0x0003  words 54-58 and 64-70 are valid
/// 54-58   current geometry and its capacity in sectors
/// 60-61   sectors addressable with LBA28 (at most 0x0FFFFFFF)
/// 64      0x0003  PIO modes 3 and 4
/// 65-68   120 ns cycle times
/// 80      0x003E  ATA-1 to ATA-5
/// 82-87   NOP and FLUSH CACHE supported and enabled; bit 14 set, bit 15 clear in 83, 84 and 87 (the words are valid)
/// 255     integrity word: 0xA5 and a checksum that makes all 512 bytes sum to 0
/// </code>
/// Strings are space-padded, and ATA stores each pair of characters with the first in the word's high
/// byte, so in the little-endian byte stream every pair comes out swapped ("iMinvH..").
/// </remarks>
public static class AtaIdentify
{
    public const int Heads = 16;
    public const int SectorsPerTrack = 63;
    public const int MaxCylinders = 16383;
    public const long MaxLba28Sectors = 0x0FFF_FFFF;

    public const string Model = "MiniHv HARDDISK";
    public const string FirmwareRevision = "1.0";

    /// <summary>Cylinders of the default geometry for a disk of <paramref name="sectors"/> sectors.</summary>
    public static int Cylinders(long sectors) => (int)Math.Clamp(sectors / (Heads * SectorsPerTrack), 1, MaxCylinders);

    /// <summary>The IDENTIFY DEVICE data of <paramref name="disk"/>, as the 512 bytes the data port delivers.</summary>
    /// <param name="serial">Up to 20 characters that tell the drives apart.</param>
    public static byte[] Build(IdeDisk disk, string serial)
    {
        var words = new ushort[256];
        int cylinders = Cylinders(disk.SectorCount);
        long lba28 = Math.Min(disk.SectorCount, MaxLba28Sectors);
        uint chsCapacity = (uint)(cylinders * Heads * SectorsPerTrack);

        words[0] = 0x0040;
        words[1] = (ushort)cylinders;
        words[3] = Heads;
        words[6] = SectorsPerTrack;
        PutString(words, 10, 10, serial);
        PutString(words, 23, 4, FirmwareRevision);
        PutString(words, 27, 20, Model);
        words[47] = 0x8000;
        words[49] = 0x0200;
        words[50] = 0x4000;
        words[51] = 0x0200;
        words[53] = 0x0003;
        words[54] = (ushort)cylinders;
        words[55] = Heads;
        words[56] = SectorsPerTrack;
        words[57] = (ushort)chsCapacity;
        words[58] = (ushort)(chsCapacity >> 16);
        words[60] = (ushort)lba28;
        words[61] = (ushort)(lba28 >> 16);
        words[64] = 0x0003;
        words[65] = words[66] = words[67] = words[68] = 120;
        words[80] = 0x003E;
        words[82] = 0x4000;
        words[83] = 0x4000 | 1 << 12;
        words[84] = 0x4000;
        words[85] = 0x4000;
        words[86] = 1 << 12;
        words[87] = 0x4000;

        var bytes = new byte[IdeDisk.SectorSize];
        for (int i = 0; i < words.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), words[i]);
        bytes[510] = 0xA5;
        int sum = 0;
        for (int i = 0; i < 511; i++)
            sum += bytes[i];
        bytes[511] = (byte)-sum;
        return bytes;
    }

    private static void PutString(ushort[] words, int first, int count, string text)
    {
        string padded = text.Length >= 2 * count ? text[..(2 * count)] : text.PadRight(2 * count);
        for (int i = 0; i < count; i++)
            words[first + i] = (ushort)((byte)padded[2 * i] << 8 | (byte)padded[2 * i + 1]);
    }
}

using System.Buffers.Binary;

namespace MiniHv.Tests.Loader;

/// <summary>Writes small multiboot ELF32 images for tests: an ELF header, program headers, a multiboot header, segment data.</summary>
internal sealed class MultibootElfBuilder
{
    public const int ElfHeaderBytes = 52;
    public const int ProgramHeaderBytes = 32;
    public const int OffsetOfClass = 4;
    public const int OffsetOfData = 5;
    public const int OffsetOfType = 16;
    public const int OffsetOfMachine = 18;
    public const int OffsetOfPhOffset = 28;
    public const int OffsetOfPhNum = 44;

    public sealed record Segment(uint PhysicalAddress, byte[] Data, uint MemorySize, uint VirtualAddress, uint Flags);

    public List<Segment> Segments { get; } = [];

    public uint Entry { get; set; } = 0x100000;

    public uint HeaderFlags { get; set; } = 0x3;

    /// <summary>File offset of the multiboot header (right after the program headers when null).</summary>
    public int? HeaderOffset { get; set; }

    public MultibootElfBuilder AddSegment(uint paddr, byte[] data, uint? memorySize = null, uint? vaddr = null, uint flags = 5)
    {
        Segments.Add(new Segment(paddr, data, memorySize ?? (uint)data.Length, vaddr ?? paddr, flags));
        return this;
    }

    /// <summary>File offset where segment <paramref name="index"/>'s program header starts.</summary>
    public static int ProgramHeaderAt(int index) => ElfHeaderBytes + index * ProgramHeaderBytes;

    /// <summary>A typical kernel: text at 1 MiB, data with bss at 1 MiB + 8 KiB, entry at 1 MiB + 0x10.</summary>
    public static MultibootElfBuilder Typical()
    {
        byte[] text = new byte[0x1234];
        for (int i = 0; i < text.Length; i++)
            text[i] = (byte)(i * 7 + 1);
        byte[] data = new byte[0x300];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(0xD0 + i % 16);
        return new MultibootElfBuilder { Entry = 0x100010 }
            .AddSegment(0x100000, text)
            .AddSegment(0x102000, data, memorySize: 0x5000, flags: 6);
    }

    public byte[] Build()
    {
        int phEnd = ElfHeaderBytes + Segments.Count * ProgramHeaderBytes;
        int headerOffset = HeaderOffset ?? (phEnd + 3) / 4 * 4;
        int offset = Math.Max(phEnd, headerOffset + 12);
        var dataOffsets = new List<int>();
        foreach (Segment s in Segments)
        {
            offset = (offset + 15) / 16 * 16;
            dataOffsets.Add(offset);
            offset += s.Data.Length;
        }

        byte[] file = new byte[offset];
        file[0] = 0x7F;
        file[1] = (byte)'E';
        file[2] = (byte)'L';
        file[3] = (byte)'F';
        file[OffsetOfClass] = 1;
        file[OffsetOfData] = 1;
        file[6] = 1;
        Put16(file, OffsetOfType, 2);
        Put16(file, OffsetOfMachine, 3);
        Put32(file, 20, 1);
        Put32(file, 24, Entry);
        Put32(file, OffsetOfPhOffset, ElfHeaderBytes);
        Put16(file, 40, ElfHeaderBytes);
        Put16(file, 42, ProgramHeaderBytes);
        Put16(file, OffsetOfPhNum, (ushort)Segments.Count);

        for (int i = 0; i < Segments.Count; i++)
        {
            Segment s = Segments[i];
            int ph = ProgramHeaderAt(i);
            Put32(file, ph, 1);
            Put32(file, ph + 4, (uint)dataOffsets[i]);
            Put32(file, ph + 8, s.VirtualAddress);
            Put32(file, ph + 12, s.PhysicalAddress);
            Put32(file, ph + 16, (uint)s.Data.Length);
            Put32(file, ph + 20, s.MemorySize);
            Put32(file, ph + 24, s.Flags);
            Put32(file, ph + 28, 0x1000);
            s.Data.CopyTo(file, dataOffsets[i]);
        }

        WriteMultibootHeader(file, headerOffset, HeaderFlags);
        return file;
    }

    public static void WriteMultibootHeader(byte[] file, int offset, uint flags)
    {
        Put32(file, offset, 0x1BADB002);
        Put32(file, offset + 4, flags);
        Put32(file, offset + 8, unchecked(0u - 0x1BADB002u - flags));
    }

    public static void Put16(byte[] file, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(offset), value);

    public static void Put32(byte[] file, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset), value);
}

using System.Buffers.Binary;
using MiniHv.Cpu;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// The i386 register file in gdb's numbering (the <c>org.gnu.gdb.i386.core</c> feature of
/// <see cref="TargetDescription"/>): eax ecx edx ebx esp ebp esi edi, eip, eflags, cs ss ds es fs gs, then the
/// x87 registers, which <see cref="X87Registers"/> reads from and writes to the processor's FPU.
/// </summary>
public static class I386Registers
{
    /// <summary>Registers in gdb's 'g' packet.</summary>
    public const int Count = 32;

    public const int Eip = 8, Eflags = 9, Cs = 10, FirstFloat = X87Registers.First;

    private static readonly SegReg[] Segments = [SegReg.CS, SegReg.SS, SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS];

    /// <summary>Bytes of register <paramref name="number"/>: 10 for st0-st7, 4 for the others.</summary>
    public static int Size(int number) => X87Registers.IsStack(number) ? X87Registers.StackSize : 4;

    /// <summary>Bytes of the whole file, as the 'g' packet carries it.</summary>
    public static int FileSize { get; } = Enumerable.Range(0, Count).Sum(Size);

    /// <summary>Register <paramref name="number"/>, little-endian as gdb wants it.</summary>
    public static byte[] Read(Cpu.Cpu cpu, int number)
    {
        if (number >= FirstFloat)
            return X87Registers.Read(cpu, number);
        var bytes = new byte[Size(number)];
        uint value = number switch
        {
            < 8 => cpu.GetRegister(number),
            Eip => cpu.Eip,
            Eflags => cpu.Eflags,
            _ => cpu.GetSegment(Segments[number - Cs]).Selector,
        };
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Sets register <paramref name="number"/> from gdb's bytes. The general registers, EIP and EFLAGS change;
    /// a segment register cannot be loaded from a debugger (its descriptor would have to be fetched) and
    /// keeps its value; false then when the value differs. The x87 registers as <see cref="X87Registers.Write"/> says.
    /// </summary>
    public static bool Write(Cpu.Cpu cpu, int number, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size(number))
            return false;
        if (number >= FirstFloat)
            return X87Registers.Write(cpu, number, bytes);
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        switch (number)
        {
            case < 8:
                cpu.SetRegister(number, value);
                return true;
            case Eip:
                cpu.Eip = value;
                return true;
            case Eflags:
                cpu.Eflags = value;
                return true;
            default:
                return cpu.GetSegment(Segments[number - Cs]).Selector == (ushort)value;
        }
    }

    /// <summary>Every register in order: the 'g' packet's contents.</summary>
    public static byte[] ReadAll(Cpu.Cpu cpu)
    {
        var all = new byte[FileSize];
        int at = 0;
        for (int n = 0; n < Count; n++)
        {
            byte[] one = Read(cpu, n);
            one.CopyTo(all, at);
            at += one.Length;
        }

        return all;
    }

    /// <summary>Sets every register from a 'G' packet's contents (segment registers as <see cref="Write"/> says).</summary>
    public static void WriteAll(Cpu.Cpu cpu, ReadOnlySpan<byte> all)
    {
        int at = 0;
        for (int n = 0; n < Count && at + Size(n) <= all.Length; n++)
        {
            Write(cpu, n, all.Slice(at, Size(n)));
            at += Size(n);
        }
    }
}

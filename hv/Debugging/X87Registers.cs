using System.Buffers.Binary;
using MiniHv.Cpu.Fpu;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// The x87 part of gdb's i386 register file (registers 16-31 of <see cref="I386Registers"/>): st0-st7 as 10-byte
/// extended values, st0 being the top of the stack, then fctrl, fstat, ftag, fiseg, fioff, foseg, fooff and fop,
/// each sent as 32 bits. ftag is the full 16-bit tag word as FSTENV stores it (one 2-bit tag per physical register),
/// and the pointers and opcode are the ones FSTENV's 32-bit protected-mode layout holds. In real mode the FPU keeps
/// 20-bit linear pointers and no selectors, so fiseg and foseg read 0 there and fioff and fooff are linear.
/// </summary>
/// <remarks>
/// Without an FPU (<c>--cpu-features no-fpu</c>) gdb still needs these registers described (its i386 core feature
/// must list them), but nothing holds them: they read as zeros with every tag empty, so gdb's <c>info float</c>
/// shows an empty stack rather than a state the guest can never see, and writes to them are refused.
/// </remarks>
internal static class X87Registers
{
    public const int First = 16, Count = 16, St0 = 16, Fctrl = 24, Fstat = 25, Ftag = 26, Fiseg = 27, Fioff = 28, Foseg = 29,
        Fooff = 30, Fop = 31;

    public const int StackSize = 10;

    public static bool IsStack(int number) => number is >= St0 and < St0 + 8;

    /// <summary>Register <paramref name="number"/> (16-31) little-endian, 10 bytes for st0-st7 and 4 for the others.</summary>
    public static byte[] Read(Cpu.Cpu cpu, int number)
    {
        var bytes = new byte[IsStack(number) ? StackSize : 4];
        if (!cpu.FpuPresent)
        {
            if (number == Ftag)
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0xFFFF);
            return bytes;
        }

        FpuState f = cpu.Fpu;
        if (IsStack(number))
        {
            Float80 value = f.St(number - St0);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value.Mantissa);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), value.SignExp);
            return bytes;
        }

        uint word = number switch
        {
            Fctrl => f.ControlWord,
            Fstat => f.StatusWord,
            Ftag => f.ComputedTagWord(),
            Fiseg => f.LastInstructionSelector,
            Fioff => f.LastInstructionOffset,
            Foseg => f.LastDataSelector,
            Fooff => f.LastDataOffset,
            _ => (uint)(f.LastOpcode & 0x7FF),
        };
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, word);
        return bytes;
    }

    /// <summary>
    /// Sets register <paramref name="number"/> from gdb's bytes as the guest loading it would: st(i) keeps its tag
    /// (an empty register stays empty; set ftag to fill it), fctrl and fstat go in as FLDENV takes them (reserved
    /// control bits dropped, the error summary recomputed), ftag as FLDENV takes it (only "empty" comes from the
    /// value). False without an FPU.
    /// </summary>
    public static bool Write(Cpu.Cpu cpu, int number, ReadOnlySpan<byte> bytes)
    {
        if (!cpu.FpuPresent)
            return false;
        FpuState f = cpu.Fpu;
        if (IsStack(number))
        {
            int physical = f.PhysicalIndex(number - St0);
            var value = new Float80(BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            f.Registers[physical] = value;
            if (f.Tag(physical) != FpuState.TagEmpty)
                f.SetTag(physical, FpuState.TagOf(value));
            return true;
        }

        uint word = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        switch (number)
        {
            case Fctrl:
                f.ControlWord = (ushort)((word & 0x1F3F) | 0x40);
                cpu.FpuUpdateErrorSummary();
                break;
            case Fstat:
                f.StatusWord = (ushort)word;
                cpu.FpuUpdateErrorSummary();
                break;
            case Ftag:
                f.LoadTagWord((ushort)word);
                break;
            case Fiseg:
                f.LastInstructionSelector = (ushort)word;
                break;
            case Fioff:
                f.LastInstructionOffset = word;
                break;
            case Foseg:
                f.LastDataSelector = (ushort)word;
                break;
            case Fooff:
                f.LastDataOffset = word;
                break;
            default:
                f.LastOpcode = (ushort)(word & 0x7FF);
                break;
        }

        return true;
    }
}

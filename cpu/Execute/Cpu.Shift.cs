using System.Numerics;

namespace MiniHv.Cpu;

/// <summary>
/// Shifts and rotates. Where the manuals leave a flag undefined (OF for counts above 1, AF),
/// the values are those QEMU produces, so transcripts compare.
/// </summary>
public sealed unsafe partial class Cpu
{
    internal const byte ShRol = 0, ShRor = 1, ShRcl = 2, ShRcr = 3, ShShl = 4, ShShr = 5, ShSal = 6, ShSar = 7;

    /// <summary>Shift group: Op is the kind; the count is Imm (Form has FormOp1Imm) or CL.</summary>
    internal static void ShiftGeneric(Cpu c, ref Insn i)
    {
        int size = i.Size;
        int count = (int)(((i.Form & FormOp1Imm) != 0 ? i.Imm : c.R[1]) & 0x1F);
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, true);
            uint a = c.Read(lin, size);
            c.ProbeWrite(lin, size);
            if (count == 0)
                return;
            c.Write(lin, size, c.Shift(i.Op, a, count, size));
        }
        else if (count != 0)
        {
            c.SetReg(i.R0, size, c.Shift(i.Op, c.GetReg(i.R0, size), count, size));
        }
    }

    internal static void ShlRI32(Cpu c, ref Insn i) => c.R[i.R0] = c.Shift(ShShl, c.R[i.R0], (int)i.Imm, 4);

    internal static void ShrRI32(Cpu c, ref Insn i) => c.R[i.R0] = c.Shift(ShShr, c.R[i.R0], (int)i.Imm, 4);

    internal static void SarRI32(Cpu c, ref Insn i) => c.R[i.R0] = c.Shift(ShSar, c.R[i.R0], (int)i.Imm, 4);

    /// <summary>Shift or rotate <paramref name="a"/> by a count already masked to 1..31, setting flags.</summary>
    internal uint Shift(int op, uint a, int count, int size)
    {
        int bits = size * 8;
        uint mask = SizeMask(size);
        uint sign = SignBit(size);
        uint res, src1;
        switch (op)
        {
            case ShRol:
            {
                int n = count & (bits - 1);
                res = n == 0 ? a : ((a << n) | (a >> (bits - n))) & mask;
                uint cf = res & 1;
                SetArith(cf | (((res & sign) != 0) ^ (cf != 0) ? OF : 0), CF | OF);
                return res;
            }

            case ShRor:
            {
                int n = count & (bits - 1);
                res = n == 0 ? a : ((a >> n) | (a << (bits - n))) & mask;
                bool msb = (res & sign) != 0, next = (res & (sign >> 1)) != 0;
                SetArith((msb ? CF : 0) | (msb ^ next ? OF : 0), CF | OF);
                return res;
            }

            case ShRcl:
            {
                int n = count % (bits + 1);
                if (n == 0)
                    return a;
                ulong wide = ((ulong)(GetCF() ? 1u : 0u) << bits) | a;
                ulong rotated = ((wide << n) | (wide >> (bits + 1 - n))) & ((1ul << (bits + 1)) - 1);
                res = (uint)rotated & mask;
                uint cf = (uint)(rotated >> bits) & 1;
                SetArith(cf | (((a ^ res) & sign) != 0 ? OF : 0), CF | OF);
                return res;
            }

            case ShRcr:
            {
                int n = count % (bits + 1);
                if (n == 0)
                    return a;
                ulong wide = ((ulong)(GetCF() ? 1u : 0u) << bits) | a;
                ulong rotated = ((wide >> n) | (wide << (bits + 1 - n))) & ((1ul << (bits + 1)) - 1);
                res = (uint)rotated & mask;
                uint cf = (uint)(rotated >> bits) & 1;
                SetArith(cf | (((a ^ res) & sign) != 0 ? OF : 0), CF | OF);
                return res;
            }

            case ShShl:
            case ShSal:
                src1 = (uint)((ulong)a << (count - 1)) & mask;
                res = (uint)((ulong)a << count) & mask;
                SetArith(((src1 & sign) != 0 ? CF : 0) | ResultFlags(res, sign) | (((src1 ^ res) & sign) != 0 ? OF : 0), ArithFlags);
                return res;
            case ShShr:
                src1 = a >> (count - 1);
                res = a >> count;
                SetArith((src1 & 1) | ResultFlags(res, sign) | (((src1 ^ res) & sign) != 0 ? OF : 0), ArithFlags);
                return res;
            default:
            {
                int sa = (int)SignExtend(a, size);
                src1 = (uint)(sa >> (count - 1)) & mask;
                res = (uint)(sa >> count) & mask;
                SetArith((src1 & 1) | ResultFlags(res, sign), ArithFlags);
                return res;
            }
        }
    }

    /// <summary>SHLD (Op 0) and SHRD (Op 1): operand 0 shifted with bits from register R1; count in Imm or CL.</summary>
    internal static void DoubleShift(Cpu c, ref Insn i)
    {
        int size = i.Size;
        int count = (int)(((i.Form & FormOp2Imm) != 0 ? i.Imm2 : c.R[1]) & 0x1F);
        bool mem = (i.Form & FormOp0Mem) != 0;
        uint lin = mem ? c.Linear(ref i, size, true) : 0;
        uint d = mem ? c.Read(lin, size) : c.GetReg(i.R0, size);
        if (mem)
            c.ProbeWrite(lin, size);
        if (count == 0)
            return;
        uint s = c.GetReg(i.R1, size);
        int bits = size * 8;
        uint sign = SignBit(size), mask = SizeMask(size);
        uint res, src1;
        if (i.Op == 0)
        {
            // The 16-bit form with counts above 16 shifts in the destination again, as QEMU does.
            ulong wide = size == 4 ? ((ulong)d << 32) | s : ((ulong)d << 48) | ((ulong)s << 32) | ((ulong)d << 16);
            int top = 64 - bits;
            res = (uint)((wide << count) >> top) & mask;
            src1 = (uint)((wide << (count - 1)) >> top) & mask;
            c.SetArith(((src1 & sign) != 0 ? CF : 0) | ResultFlags(res, sign) | (((src1 ^ res) & sign) != 0 ? OF : 0), ArithFlags);
        }
        else
        {
            ulong wide = size == 4 ? ((ulong)s << 32) | d : ((ulong)d << 32) | ((ulong)s << 16) | d;
            res = (uint)(wide >> count) & mask;
            src1 = (uint)(wide >> (count - 1)) & mask;

            // OF (undefined for counts above 1) as QEMU computes it: from the destination alone shifted by
            // count - 1 (16-bit: the source:destination pair as 32 bits), so above 1 it follows the result's sign.
            uint ofSource = size == 4 ? d >> (count - 1) : (uint)((((ulong)s << 16) | d) >> (count - 1));
            c.SetArith((src1 & 1) | ResultFlags(res, sign) | (((ofSource ^ res) & sign) != 0 ? OF : 0), ArithFlags);
        }

        if (mem)
            c.Write(lin, size, res);
        else
            c.SetReg(i.R0, size, res);
    }

    /// <summary>BT (Op 0), BTS (1), BTR (2), BTC (3). Offset from register R1 or Imm.</summary>
    internal static void BitTest(Cpu c, ref Insn i)
    {
        int size = i.Size;
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.BitStringOperand(ref i, out int bit);
            uint v = c.Read(lin, size);
            if (i.Op != 0)
                c.ProbeWrite(lin, size);
            c.SetArith((v >> bit) & 1, CF);
            if (i.Op != 0)
                c.Write(lin, size, BitOp(i.Op, v, bit));
        }
        else
        {
            int bit = (int)(((i.Form & FormOp1Imm) != 0 ? i.Imm : c.GetReg(i.R1, size)) & (uint)((size * 8) - 1));
            uint v = c.GetReg(i.R0, size);
            c.SetArith((v >> bit) & 1, CF);
            if (i.Op != 0)
                c.SetReg(i.R0, size, BitOp(i.Op, v, bit));
        }
    }

    /// <summary>The linear address of the operand that holds a memory bit test's bit, and the bit's place in it.</summary>
    private uint BitStringOperand(ref Insn i, out int bit)
    {
        int size = i.Size;
        int bits = size * 8;
        uint ea = EffectiveAddress(ref i);
        if ((i.Form & FormOp1Imm) != 0)
        {
            bit = (int)(i.Imm & (uint)(bits - 1));
        }
        else
        {
            // A register offset addresses a bit string: whole operands before or after the address.
            int signedOffset = (int)SignExtend(GetReg(i.R1, size), size);
            ea += (uint)((signedOffset >> (bits == 32 ? 5 : 4)) * size);
            if (i.Addr16)
                ea &= 0xFFFF;
            bit = signedOffset & (bits - 1);
        }

        return Linear(i.Seg, ea, size, i.Op != 0);
    }

    private static uint BitOp(int op, uint v, int bit) => op switch
    {
        1 => v | (1u << bit),
        2 => v & ~(1u << bit),
        _ => v ^ (1u << bit),
    };

    /// <summary>BSF (Op 0) and BSR (Op 1): a zero source sets ZF and leaves the destination alone.</summary>
    internal static void BitScan(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint src = c.ReadOp1(ref i);
        c.SetLazy(FlagOp.Logic, SignBit(size), 0, 0, src);
        if (src == 0)
            return;
        uint index = i.Op == 0 ? (uint)BitOperations.TrailingZeroCount(src) : (uint)(31 - BitOperations.LeadingZeroCount(src));
        c.SetReg(i.R0, size, index);
    }
}

namespace MiniHv.Cpu;

/// <summary>MUL, IMUL in its three forms, DIV and IDIV (#DE on a zero divisor or a quotient that does not fit).</summary>
public sealed unsafe partial class Cpu
{
    // Flags of a multiply as QEMU leaves them: CF=OF=overflow, SF/ZF/PF from the low half, AF clear.
    private void MulFlags(uint low, bool overflow, int size)
        => SetArith((overflow ? CF | OF : 0) | ResultFlags(low, SignBit(size)), ArithFlags);

    /// <summary>One-operand MUL (Op 0) and IMUL (Op 1) into AX, DX:AX or EDX:EAX.</summary>
    internal static void MulAcc(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint src = c.ReadOp0(ref i);
        bool signed = i.Op != 0;
        switch (size)
        {
            case 1:
            {
                uint al = c.R[0] & 0xFF;
                uint product = signed ? (uint)(short)((sbyte)al * (sbyte)src) : al * src;
                c.SetReg(0, 2, product & 0xFFFF);
                bool ov = signed ? (short)product != (sbyte)product : (product & 0xFF00) != 0;
                c.MulFlags(product & 0xFF, ov, 1);
                break;
            }

            case 2:
            {
                uint ax = c.R[0] & 0xFFFF;
                uint product = signed ? (uint)((short)ax * (short)src) : ax * src;
                c.SetReg(0, 2, product & 0xFFFF);
                c.SetReg(2, 2, product >> 16);
                bool ov = signed ? (int)product != (short)product : (product >> 16) != 0;
                c.MulFlags(product & 0xFFFF, ov, 2);
                break;
            }

            default:
            {
                ulong product = signed ? (ulong)((long)(int)c.R[0] * (int)src) : (ulong)c.R[0] * src;
                c.R[0] = (uint)product;
                c.R[2] = (uint)(product >> 32);
                bool ov = signed ? (long)product != (int)(uint)product : (product >> 32) != 0;
                c.MulFlags((uint)product, ov, 4);
                break;
            }
        }
    }

    /// <summary>Two- and three-operand IMUL: R0 = operand 1 (register or memory) * (Imm2 or R0).</summary>
    internal static void ImulGeneric(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint a = (i.Form & FormOp1Mem) != 0 ? c.Read(c.Linear(ref i, size, false), size) : c.GetReg(i.R1, size);
        uint b = (i.Form & FormOp2Imm) != 0 ? i.Imm2 : c.GetReg(i.R0, size);
        long product = (long)(int)SignExtend(a, size) * (int)SignExtend(b, size);
        uint low = (uint)product & SizeMask(size);
        c.SetReg(i.R0, size, low);
        c.MulFlags(low, product != (int)SignExtend(low, size), size);
    }

    /// <summary>DIV (Op 0) and IDIV (Op 1). Flags are left as they were, as QEMU leaves them.</summary>
    internal static void DivAcc(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint divisor = c.ReadOp0(ref i);
        if (divisor == 0)
            throw c.Fault(Vectors.DE);
        bool signed = i.Op != 0;
        switch (size)
        {
            case 1:
            {
                uint dividend = c.R[0] & 0xFFFF;
                if (signed)
                {
                    int q = (short)dividend / (sbyte)divisor, r = (short)dividend % (sbyte)divisor;
                    if (q != (sbyte)q)
                        throw c.Fault(Vectors.DE);
                    c.SetReg(0, 2, ((uint)(byte)r << 8) | (byte)q);
                }
                else
                {
                    uint q = dividend / divisor, r = dividend % divisor;
                    if (q > 0xFF)
                        throw c.Fault(Vectors.DE);
                    c.SetReg(0, 2, (r << 8) | q);
                }

                break;
            }

            case 2:
            {
                uint dividend = ((c.R[2] & 0xFFFF) << 16) | (c.R[0] & 0xFFFF);
                if (signed)
                {
                    long q = (long)(int)dividend / (short)divisor, r = (long)(int)dividend % (short)divisor;
                    if (q != (short)q)
                        throw c.Fault(Vectors.DE);
                    c.SetReg(0, 2, (uint)q & 0xFFFF);
                    c.SetReg(2, 2, (uint)r & 0xFFFF);
                }
                else
                {
                    uint q = dividend / divisor, r = dividend % divisor;
                    if (q > 0xFFFF)
                        throw c.Fault(Vectors.DE);
                    c.SetReg(0, 2, q);
                    c.SetReg(2, 2, r);
                }

                break;
            }

            default:
            {
                ulong dividend = ((ulong)c.R[2] << 32) | c.R[0];
                if (signed)
                {
                    long n = (long)dividend, d = (int)divisor;
                    if (n == long.MinValue && d == -1)
                        throw c.Fault(Vectors.DE);
                    long q = n / d, r = n % d;
                    if (q != (int)q)
                        throw c.Fault(Vectors.DE);
                    c.R[0] = (uint)q;
                    c.R[2] = (uint)r;
                }
                else
                {
                    ulong q = dividend / divisor, r = dividend % divisor;
                    if (q > 0xFFFFFFFF)
                        throw c.Fault(Vectors.DE);
                    c.R[0] = (uint)q;
                    c.R[2] = (uint)r;
                }

                break;
            }
        }
    }

    /// <summary>DAA (Op 0), DAS (1), AAA (2), AAS (3), AAM (4), AAD (5); Imm is the base of AAM/AAD.</summary>
    internal static void Bcd(Cpu c, ref Insn i)
    {
        uint al = c.R[0] & 0xFF;
        bool cf = c.GetCF(), af = c.GetAF();
        switch (i.Op)
        {
            case 0:
            case 1:
            {
                bool sub = i.Op == 1;
                uint oldAl = al;
                bool newCf = false;
                if ((al & 0xF) > 9 || af)
                {
                    newCf = cf || (sub ? al < 6 : al > 0xF9);
                    al = (sub ? al - 6 : al + 6) & 0xFF;
                    af = true;
                }
                else
                {
                    af = false;
                }

                if (oldAl > 0x99 || cf)
                {
                    al = (sub ? al - 0x60 : al + 0x60) & 0xFF;
                    newCf = true;
                }

                // OF is undefined; QEMU clears it (the flags golden of tests/kernels/flags.c).
                c.SetReg(0, 1, al);
                c.SetArith((newCf ? CF : 0) | (af ? AF : 0) | ResultFlags(al, 0x80), ArithFlags);
                break;
            }

            case 2:
            case 3:
            {
                uint ax = c.R[0] & 0xFFFF;
                if ((al & 0xF) > 9 || af)
                {
                    ax = i.Op == 2 ? ax + 0x106 : ax - 0x106;
                    ax = (ax & 0xFF00) | (ax & 0x0F);
                    c.SetReg(0, 2, ax);
                    c.SetArith(CF | AF, CF | AF);
                }
                else
                {
                    c.SetReg(0, 2, ax & 0xFF0F);
                    c.SetArith(0, CF | AF);
                }

                break;
            }

            case 4:
            {
                uint imm = i.Imm & 0xFF;
                if (imm == 0)
                    throw c.Fault(Vectors.DE);
                uint ah = al / imm, nal = al % imm;
                c.SetReg(0, 2, (ah << 8) | nal);
                c.SetLazy(FlagOp.Logic, 0x80, 0, 0, nal);
                break;
            }

            default:
            {
                uint ah = (c.R[0] >> 8) & 0xFF;
                uint nal = (al + (ah * (i.Imm & 0xFF))) & 0xFF;
                c.SetReg(0, 2, nal);
                c.SetLazy(FlagOp.Logic, 0x80, 0, 0, nal);
                break;
            }
        }
    }
}

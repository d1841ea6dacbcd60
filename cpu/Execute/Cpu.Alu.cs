using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>The eight ALU operations, TEST, INC/DEC, NEG/NOT, with lazy flags.</summary>
public sealed unsafe partial class Cpu
{
    internal const byte AluAdd = 0, AluOr = 1, AluAdc = 2, AluSbb = 3, AluAnd = 4, AluSub = 5, AluXor = 6, AluCmp = 7;

    /// <summary>Compute an ALU operation of the given size, record its flags, return the result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Alu(int op, uint a, uint b, int size)
    {
        uint sign = SignBit(size);
        uint mask = SizeMask(size);
        uint res;
        switch (op)
        {
            case AluAdd:
                res = (a + b) & mask;
                SetLazy(FlagOp.Add, sign, a, b, res);
                return res;
            case AluOr:
                res = a | b;
                SetLazy(FlagOp.Logic, sign, a, b, res);
                return res;
            case AluAdc:
            {
                uint carry = GetCF() ? 1u : 0u;
                res = (a + b + carry) & mask;
                LazyCarryIn = carry;
                SetLazy(FlagOp.Adc, sign, a, b, res);
                return res;
            }

            case AluSbb:
            {
                uint carry = GetCF() ? 1u : 0u;
                res = (a - b - carry) & mask;
                LazyCarryIn = carry;
                SetLazy(FlagOp.Sbb, sign, a, b, res);
                return res;
            }

            case AluAnd:
                res = a & b;
                SetLazy(FlagOp.Logic, sign, a, b, res);
                return res;
            case AluXor:
                res = a ^ b;
                SetLazy(FlagOp.Logic, sign, a, b, res);
                return res;
            default:
                res = (a - b) & mask;
                SetLazy(FlagOp.Sub, sign, a, b, res);
                return res;
        }
    }

    // add r32, r32 and friends: the commonest forms, no size switch.
    internal static void AluRR32(Cpu c, ref Insn i)
    {
        uint res = c.Alu(i.Op, c.R[i.R0], c.R[i.R1], 4);
        if (i.Op != AluCmp)
            c.R[i.R0] = res;
    }

    internal static void AluRI32(Cpu c, ref Insn i)
    {
        uint res = c.Alu(i.Op, c.R[i.R0], i.Imm, 4);
        if (i.Op != AluCmp)
            c.R[i.R0] = res;
    }

    internal static void AluRM32(Cpu c, ref Insn i)
    {
        uint b = c.Read32(c.Linear(ref i, 4, false));
        uint res = c.Alu(i.Op, c.R[i.R0], b, 4);
        if (i.Op != AluCmp)
            c.R[i.R0] = res;
    }

    internal static void CmpRR32(Cpu c, ref Insn i) => c.SetLazy(FlagOp.Sub, 0x80000000, c.R[i.R0], c.R[i.R1], c.R[i.R0] - c.R[i.R1]);

    internal static void CmpRI32(Cpu c, ref Insn i) => c.SetLazy(FlagOp.Sub, 0x80000000, c.R[i.R0], i.Imm, c.R[i.R0] - i.Imm);

    internal static void AddRI32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0];
        uint res = a + i.Imm;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Add, 0x80000000, a, i.Imm, res);
    }

    internal static void SubRI32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0];
        uint res = a - i.Imm;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Sub, 0x80000000, a, i.Imm, res);
    }

    internal static void XorRR32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] ^ c.R[i.R1];
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    // Specialised 32-bit forms of the hottest operations: no operation or size switch at run time.
    internal static void AddRR32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0], b = c.R[i.R1], res = a + b;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Add, 0x80000000, a, b, res);
    }

    internal static void SubRR32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0], b = c.R[i.R1], res = a - b;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Sub, 0x80000000, a, b, res);
    }

    internal static void AndRR32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] & c.R[i.R1];
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    internal static void OrRR32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] | c.R[i.R1];
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    internal static void AndRI32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] & i.Imm;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    internal static void OrRI32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] | i.Imm;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    internal static void XorRI32(Cpu c, ref Insn i)
    {
        uint res = c.R[i.R0] ^ i.Imm;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, res);
    }

    internal static void AddRM32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0], b = c.Read32(c.Linear(ref i, 4, false)), res = a + b;
        c.R[i.R0] = res;
        c.SetLazy(FlagOp.Add, 0x80000000, a, b, res);
    }

    internal static void CmpRM32(Cpu c, ref Insn i)
    {
        uint a = c.R[i.R0], b = c.Read32(c.Linear(ref i, 4, false));
        c.SetLazy(FlagOp.Sub, 0x80000000, a, b, a - b);
    }

    internal static void CmpMR32(Cpu c, ref Insn i)
    {
        uint a = c.Read32(c.Linear(ref i, 4, false)), b = c.R[i.R1];
        c.SetLazy(FlagOp.Sub, 0x80000000, a, b, a - b);
    }

    internal static void CmpMI32(Cpu c, ref Insn i)
    {
        uint a = c.Read(c.Linear(ref i, i.Size, false), i.Size), b = i.Imm;
        c.SetLazy(FlagOp.Sub, SignBit(i.Size), a, b, (a - b) & SizeMask(i.Size));
    }

    internal static void AddMR32(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 4, true);
        uint a = c.Read32(lin), b = c.R[i.R1], res = a + b;
        c.Write32(lin, res);
        c.SetLazy(FlagOp.Add, 0x80000000, a, b, res);
    }

    internal static void AddMI32(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 4, true);
        uint a = c.Read32(lin), res = a + i.Imm;
        c.Write32(lin, res);
        c.SetLazy(FlagOp.Add, 0x80000000, a, i.Imm, res);
    }

    internal static void TestRI32(Cpu c, ref Insn i) => c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, c.R[i.R0] & i.Imm);

    /// <summary>CF as INC/DEC must preserve it, cheaply when the last operation was itself an INC or DEC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint CarryForIncDec() => LazyOp is FlagOp.Inc or FlagOp.Dec ? LazyCarryIn : GetCF() ? 1u : 0u;

    /// <summary>Any ALU form and size: destination operand 0 (register or memory), source operand 1.</summary>
    internal static void AluGeneric(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint b = c.ReadOp1(ref i);
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, i.Op != AluCmp);
            uint a = c.Read(lin, size);
            if (i.Op != AluCmp)
                c.ProbeWrite(lin, size); // a faulting store must find the flags unchanged
            uint res = c.Alu(i.Op, a, b, size);
            if (i.Op != AluCmp)
                c.Write(lin, size, res);
        }
        else
        {
            uint res = c.Alu(i.Op, c.GetReg(i.R0, size), b, size);
            if (i.Op != AluCmp)
                c.SetReg(i.R0, size, res);
        }
    }

    internal static void TestGeneric(Cpu c, ref Insn i)
    {
        uint res = c.ReadOp0(ref i) & c.ReadOp1(ref i);
        c.SetLazy(FlagOp.Logic, SignBit(i.Size), 0, 0, res);
    }

    internal static void TestRR32(Cpu c, ref Insn i) => c.SetLazy(FlagOp.Logic, 0x80000000, 0, 0, c.R[i.R0] & c.R[i.R1]);

    internal static void IncDecGeneric(Cpu c, ref Insn i)
    {
        int size = i.Size;
        bool dec = i.Op != 0;
        uint carry = c.GetCF() ? 1u : 0u;
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, true);
            uint a = c.Read(lin, size);
            uint res = (dec ? a - 1 : a + 1) & SizeMask(size);
            c.Write(lin, size, res);
            c.LazyCarryIn = carry;
            c.SetLazy(dec ? FlagOp.Dec : FlagOp.Inc, SignBit(size), a, 1, res);
        }
        else
        {
            uint a = c.GetReg(i.R0, size);
            uint res = (dec ? a - 1 : a + 1) & SizeMask(size);
            c.SetReg(i.R0, size, res);
            c.LazyCarryIn = carry;
            c.SetLazy(dec ? FlagOp.Dec : FlagOp.Inc, SignBit(size), a, 1, res);
        }
    }

    internal static void IncR32(Cpu c, ref Insn i)
    {
        uint carry = c.CarryForIncDec();
        uint a = c.R[i.R0];
        c.R[i.R0] = a + 1;
        c.LazyCarryIn = carry;
        c.SetLazy(FlagOp.Inc, 0x80000000, a, 1, a + 1);
    }

    internal static void DecR32(Cpu c, ref Insn i)
    {
        uint carry = c.CarryForIncDec();
        uint a = c.R[i.R0];
        c.R[i.R0] = a - 1;
        c.LazyCarryIn = carry;
        c.SetLazy(FlagOp.Dec, 0x80000000, a, 1, a - 1);
    }

    internal static void Neg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = 0;
        uint b = (i.Form & FormOp0Mem) != 0 ? c.Read(lin = c.Linear(ref i, size, true), size) : c.GetReg(i.R0, size);
        uint res = (0 - b) & SizeMask(size);
        if ((i.Form & FormOp0Mem) != 0)
            c.Write(lin, size, res);
        else
            c.SetReg(i.R0, size, res);
        c.SetLazy(FlagOp.Sub, SignBit(size), 0, b, res); // after the store, so a fault leaves the flags
    }

    internal static void Not(Cpu c, ref Insn i)
    {
        int size = i.Size;
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, true);
            c.Write(lin, size, ~c.Read(lin, size) & SizeMask(size));
        }
        else
        {
            c.SetReg(i.R0, size, ~c.GetReg(i.R0, size) & SizeMask(size));
        }
    }

    /// <summary>Write operand 0 (register or memory) of the instruction's size.</summary>
    internal void WriteOp0(ref Insn i, uint value)
    {
        if ((i.Form & FormOp0Mem) != 0)
            Write(Linear(ref i, i.Size, true), i.Size, value);
        else
            SetReg(i.R0, i.Size, value);
    }
}

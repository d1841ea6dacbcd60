using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>MOV and its relatives: MOVZX/MOVSX, LEA, XCHG, CMPXCHG, XADD, BSWAP, CMOVcc, SETcc, conversions.</summary>
public sealed unsafe partial class Cpu
{
    internal static void MovRR32(Cpu c, ref Insn i) => c.R[i.R0] = c.R[i.R1];

    internal static void MovRI32(Cpu c, ref Insn i) => c.R[i.R0] = i.Imm;

    // The commonest memory instructions: a flat segment and a TLB hit are handled here; anything else
    // (a checked segment, a miss, a page-crossing access) redoes the whole access out of line, so the
    // fast path keeps nothing live across a call.
    internal static void MovRM32(Cpu c, ref Insn i)
    {
        if ((c.CheckedSegments & (1 << i.Seg)) == 0)
        {
            uint lin = c.R[i.Base] + (c.R[i.Index] << i.Scale) + i.Disp;
            TlbEntry* e = c.TlbRead + ((lin >> 12) & TlbMask);
            if (e->Tag == ((lin + 3) & 0xFFFFF000))
            {
                c.R[i.R0] = *(uint*)(e->Addend + lin);
                return;
            }
        }

        MovRM32Slow(c, ref i);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MovRM32Slow(Cpu c, ref Insn i)
    {
        // A page fault here is the common one (a first touch, a copy-on-write page): left pending, not thrown.
        uint value = c.ReadOrPendFault(c.Linear(ref i, 4, false), 4);
        if (!c.PageFaultPending)
            c.R[i.R0] = value;
    }

    internal static void MovMR32(Cpu c, ref Insn i)
    {
        if ((c.CheckedSegments & (1 << i.Seg)) == 0)
        {
            uint lin = c.R[i.Base] + (c.R[i.Index] << i.Scale) + i.Disp;
            TlbEntry* e = c.TlbWrite + ((lin >> 12) & TlbMask);
            if (e->Tag == ((lin + 3) & 0xFFFFF000))
            {
                *(uint*)(e->Addend + lin) = c.R[i.R1];
                return;
            }
        }

        MovMR32Slow(c, ref i);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MovMR32Slow(Cpu c, ref Insn i) => c.WriteOrPendFault(c.Linear(ref i, 4, true), 4, c.R[i.R1]);

    internal static void MovMI32(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 4, true);
        TlbEntry* e = c.TlbWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == ((lin + 3) & 0xFFFFF000))
            *(uint*)(e->Addend + lin) = i.Imm;
        else
            c.WriteOrPendFault(lin, 4, i.Imm);
    }

    /// <summary>MOV of any size: operand 0 (register or memory) from operand 1 (register, memory or immediate).</summary>
    internal static void MovGeneric(Cpu c, ref Insn i) => c.WriteOp0(ref i, c.ReadOp1(ref i));

    internal static void Lea32(Cpu c, ref Insn i) => c.R[i.R0] = c.EffectiveAddress(ref i);

    internal static void LeaGeneric(Cpu c, ref Insn i) => c.SetReg(i.R0, i.Size, c.EffectiveAddress(ref i));

    /// <summary>MOVZX/MOVSX: Imm2 holds the source size, Op is 1 for sign extension.</summary>
    internal static void MovExtend(Cpu c, ref Insn i)
    {
        int srcSize = (int)i.Imm2;
        uint v = (i.Form & FormOp1Mem) != 0 ? c.Read(c.Linear(ref i, srcSize, false), srcSize) : c.GetReg(i.R1, srcSize);
        if (i.Op != 0)
            v = SignExtend(v, srcSize);
        c.SetReg(i.R0, i.Size, v & SizeMask(i.Size));
    }

    internal static void MovzxRM8_32(Cpu c, ref Insn i) => c.R[i.R0] = c.Read8(c.Linear(ref i, 1, false));

    internal static void Xchg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint b = c.GetReg(i.R1, size);
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, true);
            uint a = c.Read(lin, size);
            c.Write(lin, size, b);
            c.SetReg(i.R1, size, a);
        }
        else
        {
            uint a = c.GetReg(i.R0, size);
            c.SetReg(i.R0, size, b);
            c.SetReg(i.R1, size, a);
        }
    }

    internal static void Cmpxchg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint acc = c.GetReg(0, size);
        uint lin = 0;
        bool mem = (i.Form & FormOp0Mem) != 0;
        uint dest = mem ? c.Read(lin = c.Linear(ref i, size, true), size) : c.GetReg(i.R0, size);
        if (mem)
            c.ProbeWrite(lin, size);
        c.Alu(AluCmp, acc, dest, size);
        if (acc == dest)
        {
            uint src = c.GetReg(i.R1, size);
            if (mem)
                c.Write(lin, size, src);
            else
                c.SetReg(i.R0, size, src);
        }
        else
        {
            // The processor always writes the destination back, so a read-only page faults either way.
            if (mem)
                c.Write(lin, size, dest);
            c.SetReg(0, size, dest);
        }
    }

    internal static void Cmpxchg8b(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 8, true);
        c.ProbeWrite(lin, 8);
        uint lo = c.Read32(lin), hi = c.Read32(lin + 4);
        if (lo == c.R[0] && hi == c.R[2])
        {
            c.Write32(lin, c.R[3]);
            c.Write32(lin + 4, c.R[1]);
            c.SetArith(ZF, ZF);
        }
        else
        {
            c.Write32(lin, lo);
            c.Write32(lin + 4, hi);
            c.R[0] = lo;
            c.R[2] = hi;
            c.SetArith(0, ZF);
        }
    }

    internal static void Xadd(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint src = c.GetReg(i.R1, size);
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint lin = c.Linear(ref i, size, true);
            uint dest = c.Read(lin, size);
            c.ProbeWrite(lin, size);
            uint sum = c.Alu(AluAdd, dest, src, size);
            c.Write(lin, size, sum);
            c.SetReg(i.R1, size, dest);
        }
        else
        {
            uint dest = c.GetReg(i.R0, size);
            uint sum = c.Alu(AluAdd, dest, src, size);
            c.SetReg(i.R1, size, dest);
            c.SetReg(i.R0, size, sum);
        }
    }

    internal static void Bswap(Cpu c, ref Insn i) => c.R[i.R0] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(c.R[i.R0]);

    internal static void Cmovcc(Cpu c, ref Insn i)
    {
        // The source is read (and may fault) whether or not the condition holds.
        uint v = c.ReadOp1(ref i);
        if (c.Condition(i.Op))
            c.SetReg(i.R0, i.Size, v);
    }

    internal static void Setcc(Cpu c, ref Insn i) => c.WriteOp0(ref i, c.Condition(i.Op) ? 1u : 0u);

    /// <summary>CBW/CWDE (Op 0) and CWD/CDQ (Op 1), by operand size.</summary>
    internal static void ConvertAcc(Cpu c, ref Insn i)
    {
        if (i.Op == 0)
        {
            if (i.Size == 4)
                c.R[0] = (uint)(short)c.R[0];
            else
                c.SetReg(0, 2, (uint)(sbyte)c.R[0]);
        }
        else if (i.Size == 4)
        {
            c.R[2] = (int)c.R[0] < 0 ? 0xFFFFFFFF : 0;
        }
        else
        {
            c.SetReg(2, 2, (c.R[0] & 0x8000) != 0 ? 0xFFFFu : 0);
        }
    }

    internal static void Lahf(Cpu c, ref Insn i) => c.SetReg(4, 1, c.GetEflags() & 0xFF);

    internal static void Sahf(Cpu c, ref Insn i) => c.SetArith(c.GetReg(4, 1), CF | PF | AF | ZF | SF);

    internal static void Xlat(Cpu c, ref Insn i)
    {
        uint ea = c.R[3] + (c.R[0] & 0xFF);
        if (i.Addr16)
            ea &= 0xFFFF;
        c.SetReg(0, 1, c.Read8(c.Linear(i.Seg, ea, 1, false)));
    }

    internal static void Nop(Cpu c, ref Insn i)
    {
    }
}

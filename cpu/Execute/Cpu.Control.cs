namespace MiniHv.Cpu;

/// <summary>Near jumps, calls and returns, conditional branches, LOOP/JECXZ, software interrupts, HLT.</summary>
public sealed unsafe partial class Cpu
{
    // Imm holds the branch displacement relative to the next instruction; Op bit 0 marks a 16-bit operand size.
    internal static void JmpRel(Cpu c, ref Insn i)
    {
        c.EipValue += i.Imm;
        if (i.Size == 2)
            c.EipValue &= 0xFFFF;
    }

    internal static void Jcc(Cpu c, ref Insn i)
    {
        if (c.Condition(i.Op))
        {
            c.EipValue += i.Imm;
            if (i.Size == 2)
                c.EipValue &= 0xFFFF;
        }
    }

    /// <summary>
    /// A 32-bit Jcc that does not end its block (a not-taken branch falls through to the next instruction of the same
    /// block, see DecodeBlock): taken, it leaves the block as an instruction asking to end it does, and the chain goes
    /// on at the target (ChainBlocks' side exit).
    /// </summary>
    internal static void JccSideExit(Cpu c, ref Insn i)
    {
        if (c.Condition(i.Op))
        {
            c.EipValue += i.Imm;
            c.SideExit = true;
            c.AbortBlock = true;
        }
    }

    internal static void JmpIndirect(Cpu c, ref Insn i) => c.EipValue = c.ReadOp0(ref i);

    internal static void CallRel(Cpu c, ref Insn i)
    {
        if (i.Size == 2)
        {
            c.PushSized(c.EipValue & 0xFFFF, 2);
            c.EipValue = (c.EipValue + i.Imm) & 0xFFFF;
        }
        else
        {
            c.Push32(c.EipValue);
            c.EipValue += i.Imm;
        }
    }

    internal static void CallIndirect(Cpu c, ref Insn i)
    {
        uint target = c.ReadOp0(ref i);
        c.PushSized(i.Size == 2 ? c.EipValue & 0xFFFF : c.EipValue, i.Size);
        c.EipValue = target;
    }

    internal static void Ret(Cpu c, ref Insn i)
    {
        uint target = c.PopSized(i.Size);
        if (i.Imm != 0)
        {
            if (c.StackIs32)
                c.R[4] += i.Imm;
            else
                c.SetReg(4, 2, c.R[4] + i.Imm);
        }

        c.EipValue = target;
    }

    internal static void Ret32(Cpu c, ref Insn i) => c.EipValue = c.Pop32();

    /// <summary>LOOP (Op 0), LOOPE (1), LOOPNE (2), JECXZ (3); Addr16 selects CX.</summary>
    internal static void Loop(Cpu c, ref Insn i)
    {
        uint count;
        if (i.Op == 3)
        {
            count = i.Addr16 ? c.R[1] & 0xFFFF : c.R[1];
        }
        else if (i.Addr16)
        {
            count = (c.R[1] - 1) & 0xFFFF;
            c.SetReg(1, 2, count);
        }
        else
        {
            count = --c.R[1];
        }

        bool taken = i.Op switch
        {
            0 => count != 0,
            1 => count != 0 && c.GetZF(),
            2 => count != 0 && !c.GetZF(),
            _ => count == 0,
        };
        if (taken)
        {
            c.EipValue += i.Imm;
            if (i.Size == 2)
                c.EipValue &= 0xFFFF;
        }
    }

    internal static void IntN(Cpu c, ref Insn i) => c.SoftwareInterrupt((int)i.Imm, checkDpl: true);

    internal static void Int3(Cpu c, ref Insn i) => c.SoftwareInterrupt(Vectors.BP, checkDpl: true);

    /// <summary>ICEBP (INT1, 0xF1): a debug trap after the instruction, without INT n's gate DPL check.</summary>
    internal static void Int1(Cpu c, ref Insn i) => c.SoftwareInterrupt(Vectors.DB, checkDpl: false);

    internal static void Into(Cpu c, ref Insn i)
    {
        if (c.GetOF())
            c.SoftwareInterrupt(Vectors.OF, checkDpl: true);
    }

    internal static void Hlt(Cpu c, ref Insn i)
    {
        if (c.CplValue != 0)
            throw c.Fault(Vectors.GP, 0);
        c.Halted = true;
        c.AbortBlock = true;
    }

    internal static void Bound(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, 2 * size, false);
        int lower = (int)SignExtend(c.Read(lin, size), size);
        int upper = (int)SignExtend(c.Read(lin + (uint)size, size), size);
        int index = (int)SignExtend(c.GetReg(i.R0, size), size);
        if (index < lower || index > upper)
            throw c.Fault(Vectors.BR);
    }

    /// <summary>An opcode this processor does not have (x87 and SSE included: CPUID reports no FPU).</summary>
    internal static void Undefined(Cpu c, ref Insn i) => throw c.Fault(Vectors.UD);
}

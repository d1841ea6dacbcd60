namespace MiniHv.Cpu;

/// <summary>PUSH/POP in all their forms, PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE.</summary>
public sealed unsafe partial class Cpu
{
    internal static void PushR32(Cpu c, ref Insn i) => c.Push32(c.R[i.R0]);

    internal static void PopR32(Cpu c, ref Insn i)
    {
        uint v = c.Pop32();
        c.R[i.R0] = v;
    }

    internal static void PushI32(Cpu c, ref Insn i) => c.Push32(i.Imm);

    /// <summary>PUSH r/m16/32 or imm of operand size <see cref="Insn.Size"/>.</summary>
    internal static void PushGeneric(Cpu c, ref Insn i)
    {
        uint v = (i.Form & FormOp1Imm) != 0 ? i.Imm : c.ReadOp0(ref i);
        c.PushSized(v, i.Size);
    }

    internal static void PopGeneric(Cpu c, ref Insn i)
    {
        uint savedEsp = c.R[4];
        uint v = c.PopSized(i.Size);
        try
        {
            // The address of a memory destination is computed with ESP already incremented.
            c.WriteOp0(ref i, v);
        }
        catch (GuestFault)
        {
            c.R[4] = savedEsp;
            throw;
        }
    }

    internal static void PushSeg(Cpu c, ref Insn i) => c.PushSized(c.Segs[i.R0].Selector, i.Size);

    internal static void PopSeg(Cpu c, ref Insn i)
    {
        uint v = c.PeekStack(0, i.Size);
        c.LoadSegment(i.R0, (ushort)v);
        c.PopSized(i.Size);
        if (i.R0 == (int)SegReg.SS)
            c.InterruptShadow = true;
    }

    internal static void Pusha(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint esp = c.R[4];
        uint bottom = esp - (uint)(8 * size);
        c.Probe(c.Linear((int)SegReg.SS, bottom, 8 * size, true), true);
        c.Probe(c.Linear((int)SegReg.SS, esp - 1, 1, true), true);
        for (int r = 0; r < 8; r++)
            c.PushSized(r == 4 ? esp : c.R[r], size);
    }

    internal static void Popa(Cpu c, ref Insn i)
    {
        int size = i.Size;

        // Both ends, so a frame that runs into an unmapped page faults before any register changes.
        uint lin = c.Linear((int)SegReg.SS, c.StackIs32 ? c.R[4] : c.R[4] & 0xFFFF, 8 * size, false);
        c.Probe(lin, false);
        c.Probe((lin + (uint)(8 * size) - 1) & 0xFFFFF000, false);
        for (int r = 7; r >= 0; r--)
        {
            uint v = c.PopSized(size);
            if (r != 4)
                c.SetReg(r, size, v);
        }
    }

    internal static void Pushf(Cpu c, ref Insn i)
    {
        // RF and VM are never pushed.
        uint flags = c.GetEflags() & ~(RF | VM);
        c.PushSized(i.Size == 2 ? flags & 0xFFFF : flags, i.Size);
    }

    internal static void Popf(Cpu c, ref Insn i)
    {
        uint v = c.PeekStack(0, i.Size);
        c.PopSized(i.Size);
        c.WriteFlagsFromStack(v, i.Size);
    }

    /// <summary>The POPF/IRET rules: IOPL changes only at CPL 0, IF only when CPL &lt;= IOPL; VM and RF are not touched.</summary>
    internal void WriteFlagsFromStack(uint value, int size)
    {
        uint writable = CF | PF | AF | ZF | SF | TF | DF | OF | NT | AC | ID;
        if (CplValue == 0)
            writable |= IOPL;
        if (CplValue <= Iopl)
            writable |= IF;
        if (size == 2)
            writable &= 0xFFFF;
        uint current = GetEflags();
        SetEflags((current & ~writable) | (value & writable));

        // Interrupts just became deliverable: leave the block so Run looks at the interrupt line.
        if ((current & IF) == 0 && (FlagsRest & IF) != 0)
            AbortBlock = true;
    }

    internal static void Leave(Cpu c, ref Insn i)
    {
        // Read the saved frame pointer before moving ESP, so a fault leaves ESP as it was.
        uint sp = c.StackIs32 ? c.R[5] : c.R[5] & 0xFFFF;
        uint v = c.Read(c.Linear((int)SegReg.SS, sp, i.Size, false), i.Size);
        if (c.StackIs32)
            c.R[4] = sp + (uint)i.Size;
        else
            c.SetReg(4, 2, sp + (uint)i.Size);
        c.SetReg(5, i.Size, v);
    }

    internal static void Enter(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint alloc = i.Imm;
        int level = (int)(i.Imm2 & 31);
        uint savedEsp = c.R[4];
        try
        {
            c.PushSized(c.GetReg(5, size), size);
            uint frameTemp = c.StackIs32 ? c.R[4] : c.R[4] & 0xFFFF;
            if (level > 0)
            {
                uint ebp = c.R[5];
                for (int n = 1; n < level; n++)
                {
                    ebp -= (uint)size;
                    uint addr = c.StackIs32 ? ebp : ebp & 0xFFFF;
                    c.PushSized(c.Read(c.Linear((int)SegReg.SS, addr, size, false), size), size);
                }

                c.PushSized(frameTemp, size);
            }

            uint newSp = (c.StackIs32 ? c.R[4] : c.R[4] & 0xFFFF) - alloc;
            if (alloc > 0)
                c.Probe(c.Linear((int)SegReg.SS, c.StackIs32 ? newSp : newSp & 0xFFFF, 1, true), true);
            c.SetReg(5, size, frameTemp);
            if (c.StackIs32)
                c.R[4] = newSp;
            else
                c.SetReg(4, 2, newSp);
        }
        catch (GuestFault)
        {
            c.R[4] = savedEsp;
            throw;
        }
    }
}

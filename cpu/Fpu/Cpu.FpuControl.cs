using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>x87 control instructions: control and status words, the environment and the full state in 16- and 32-bit layouts, stack housekeeping and WAIT.</summary>
public sealed unsafe partial class Cpu
{
    // Insn.Op of FpuControl.
    internal const byte FLdcw = 0, FStcw = 1, FStswMem = 2, FStswAx = 3, FClex = 4, FInit = 5, FStenv = 6, FLdenv = 7,
        FSave = 8, FRstor = 9, FFree = 10, FIncstp = 11, FDecstp = 12, FNop = 13, FFreep = 14;

    internal static void FpuControl(Cpu c, ref Insn i)
    {
        var f = c.Fpu;
        switch (i.Op)
        {
            case FLdcw:
            {
                c.FpuEnter(ref i, control: true);
                uint lin = c.Linear(ref i, 2, false);
                f.ControlWord = (ushort)((c.Read(lin, 2) & 0x1F3F) | 0x40);
                c.FpuUpdateErrorSummary();
                return;
            }

            case FStcw:
            {
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                c.Write(c.Linear(ref i, 2, true), 2, f.ControlWord);
                return;
            }

            case FStswMem:
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                c.Write(c.Linear(ref i, 2, true), 2, f.StatusWord);
                return;
            case FStswAx:
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                c.SetReg(0, 2, f.StatusWord);
                return;
            case FClex:
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                f.StatusFlags &= 0x7F00;
                return;
            case FInit:
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                f.Initialize();
                return;
            case FStenv:
            {
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                uint lin = c.Linear(ref i, i.Size == 2 ? 14 : 28, true);
                c.ProbeWrite(lin, i.Size == 2 ? 14 : 28);
                c.StoreEnvironment(lin, i.Size == 2);
                f.ControlWord |= 0x3F;
                c.FpuUpdateErrorSummary();
                return;
            }

            case FLdenv:
            {
                c.FpuEnter(ref i, control: true);
                uint lin = c.Linear(ref i, i.Size == 2 ? 14 : 28, false);
                c.LoadEnvironment(lin, i.Size == 2);
                return;
            }

            case FSave:
            {
                c.FpuEnter(ref i, waiting: (i.Imm & FWaitForm) != 0, control: true);
                int env = i.Size == 2 ? 14 : 28;
                uint lin = c.Linear(ref i, env + 80, true);
                c.ProbeWrite(lin, env + 80);
                c.StoreEnvironment(lin, i.Size == 2);
                for (int k = 0; k < 8; k++)
                    c.WriteFloat80(lin + (uint)(env + (k * 10)), f.St(k));
                f.Initialize();
                return;
            }

            case FRstor:
            {
                c.FpuEnter(ref i, control: true);
                int env = i.Size == 2 ? 14 : 28;
                uint lin = c.Linear(ref i, env + 80, false);
                Span<Float80> regs = stackalloc Float80[8];
                for (int k = 0; k < 8; k++)
                    regs[k] = c.ReadFloat80(lin + (uint)(env + (k * 10)));
                c.LoadEnvironment(lin, i.Size == 2, regs);
                return;
            }

            case FFree:
            case FFreep:
                c.FpuEnter(ref i);
                f.SetTag(f.PhysicalIndex(i.R0), FpuState.TagEmpty);
                if (i.Op == FFreep)
                    f.Top = (f.Top + 1) & 7;
                return;
            case FIncstp:
            case FDecstp:
                c.FpuEnter(ref i);
                f.Top = (f.Top + (i.Op == FIncstp ? 1 : 7)) & 7;
                f.StatusFlags &= unchecked((ushort)~FpuState.SwC1);
                return;
            default:
                c.FpuEnter(ref i);
                return;
        }
    }

    /// <summary>WAIT/FWAIT: #NM when CR0.TS and CR0.MP are both set, then any pending unmasked x87 exception.</summary>
    internal static void FpuWait(Cpu c, ref Insn i)
    {
        if ((c._cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
            throw c.Fault(Vectors.NM);
        if (c.FpuPresent && (c.Fpu.StatusFlags & FpuState.SwErrorSummary) != 0 && (c._cr0 & CR0_NE) != 0)
            throw c.Fault(Vectors.MF);
    }

    /// <summary>
    /// FSTENV's image: control, status and tag words, then the instruction and data pointers. Protected mode
    /// stores offsets and selectors (with the opcode beside FCS in the 32-bit layout); real mode stores 20-bit
    /// linear addresses split into a low 16 bits and bits 16-19 at bit 12 beside the opcode.
    /// </summary>
    private void StoreEnvironment(uint lin, bool layout16)
    {
        var f = Fpu;
        Span<uint> words = stackalloc uint[7];
        words[0] = f.ControlWord | (layout16 ? 0u : 0xFFFF_0000);
        words[1] = f.StatusWord | (layout16 ? 0u : 0xFFFF_0000);
        words[2] = f.ComputedTagWord() | (layout16 ? 0u : 0xFFFF_0000);
        if (RealMode)
        {
            uint ip = f.LastInstructionOffset, dp = f.LastDataOffset;
            words[3] = ip & 0xFFFF;
            words[4] = ((ip >> 4) & 0xF000) | (layout16 ? 0 : (ip >> 4) & 0x0FFF_0000) | (f.LastOpcode & 0x7FFu);
            words[5] = dp & 0xFFFF;
            words[6] = (dp >> 4) & (layout16 ? 0xF000u : 0x0FFF_F000u);
        }
        else
        {
            words[3] = layout16 ? f.LastInstructionOffset & 0xFFFF : f.LastInstructionOffset;
            words[4] = f.LastInstructionSelector | (layout16 ? 0u : (uint)(f.LastOpcode & 0x7FF) << 16);
            words[5] = layout16 ? f.LastDataOffset & 0xFFFF : f.LastDataOffset;
            words[6] = f.LastDataSelector | (layout16 ? 0u : 0xFFFF_0000);
        }

        int size = layout16 ? 2 : 4;
        for (int k = 0; k < 7; k++)
            Write(lin + (uint)(k * size), size, layout16 ? words[k] & 0xFFFF : words[k]);
    }

    /// <summary>FLDENV (and the first part of FRSTOR, whose registers arrive in <paramref name="registers"/>, ST(0) first).</summary>
    private void LoadEnvironment(uint lin, bool layout16, ReadOnlySpan<Float80> registers = default)
    {
        int size = layout16 ? 2 : 4;
        Span<uint> words = stackalloc uint[7];
        for (int k = 0; k < 7; k++)
            words[k] = Read(lin + (uint)(k * size), size);
        var f = Fpu;
        f.ControlWord = (ushort)((words[0] & 0x1F3F) | 0x40);
        f.StatusWord = (ushort)words[1];
        if (RealMode)
        {
            f.LastInstructionOffset = (words[3] & 0xFFFF) | ((words[4] & (layout16 ? 0xF000u : 0x0FFF_F000u)) << 4);
            f.LastInstructionSelector = 0;
            f.LastOpcode = (ushort)(words[4] & 0x7FF);
            f.LastDataOffset = (words[5] & 0xFFFF) | ((words[6] & (layout16 ? 0xF000u : 0x0FFF_F000u)) << 4);
            f.LastDataSelector = 0;
        }
        else
        {
            f.LastInstructionOffset = layout16 ? words[3] & 0xFFFF : words[3];
            f.LastInstructionSelector = (ushort)words[4];
            f.LastOpcode = layout16 ? (ushort)0 : (ushort)((words[4] >> 16) & 0x7FF);
            f.LastDataOffset = layout16 ? words[5] & 0xFFFF : words[5];
            f.LastDataSelector = (ushort)words[6];
        }

        if (!registers.IsEmpty)
        {
            for (int k = 0; k < 8; k++)
                f.Registers[f.PhysicalIndex(k)] = registers[k];
        }

        f.LoadTagWord((ushort)words[2]);
        FpuUpdateErrorSummary();
    }
}

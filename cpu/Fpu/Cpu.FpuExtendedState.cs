using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>
/// FXSAVE and FXRSTOR (0F AE /0 and /1) as the SDM gives them for a processor without SSE: a 512-byte
/// image at a 16-byte aligned address (#GP(0) otherwise) holding FCW, FSW, the abridged tag byte (one bit
/// per physical register, 1 = not empty), FOP, the instruction and data pointers, and ST(0)-ST(7) in
/// 16-byte slots from byte 32. Neither waits for a pending x87 exception; FXSAVE leaves the x87 state as it
/// was (FSAVE reinitializes it). The MXCSR, XMM and reserved bytes from 24 on, other than the register
/// slots, are neither written nor read: without SSE there is nothing to keep there. They are #UD unless
/// CPUID reports FXSR (<see cref="FeatureFxsr"/>), which MiniHv's CPU model does not by default.
/// </summary>
public sealed unsafe partial class Cpu
{
    /// <summary>CPUID leaf 1 EDX bit 24: FXSAVE and FXRSTOR.</summary>
    public const uint FeatureFxsr = 1u << 24;

    // Insn.Op of FpuExtendedState.
    internal const byte FxSave = 0, FxRstor = 1;

    private const int FxImageSize = 512, FxRegisters = 32, FxSlot = 16;

    internal static void FpuExtendedState(Cpu c, ref Insn i)
    {
        if ((c.FeatureFlags & FeatureFxsr) == 0)
            throw c.Fault(Vectors.UD);
        c.FpuEnter(ref i, waiting: false, control: true);
        bool save = i.Op == FxSave;
        uint lin = c.Linear(ref i, FxImageSize, save);
        if ((lin & 15) != 0)
            throw c.Fault(Vectors.GP, 0);
        var f = c.Fpu;
        if (save)
        {
            c.ProbeWrite(lin, FxImageSize);
            uint abridged = 0;
            for (int p = 0; p < 8; p++)
            {
                if (f.Tag(p) != FpuState.TagEmpty)
                    abridged |= 1u << p;
            }

            c.Write(lin, 4, f.ControlWord | ((uint)f.StatusWord << 16));
            c.Write(lin + 4, 4, abridged | ((uint)(f.LastOpcode & 0x7FF) << 16));
            c.Write(lin + 8, 4, f.LastInstructionOffset);
            c.Write(lin + 12, 4, f.LastInstructionSelector);
            c.Write(lin + 16, 4, f.LastDataOffset);
            c.Write(lin + 20, 4, f.LastDataSelector);
            for (int k = 0; k < 8; k++)
            {
                uint slot = lin + FxRegisters + (uint)(k * FxSlot);
                c.WriteFloat80(slot, f.St(k));
                c.Write(slot + 10, 2, 0);
                c.Write(slot + 12, 4, 0);
            }

            return;
        }

        // Read everything before changing anything, so that a fault part-way leaves the state as it was.
        uint words = c.Read(lin, 4), tags = c.Read(lin + 4, 4);
        uint ip = c.Read(lin + 8, 4), cs = c.Read(lin + 12, 4), dp = c.Read(lin + 16, 4), ds = c.Read(lin + 20, 4);
        Span<Float80> regs = stackalloc Float80[8];
        for (int k = 0; k < 8; k++)
            regs[k] = c.ReadFloat80(lin + FxRegisters + (uint)(k * FxSlot));
        f.ControlWord = (ushort)((words & 0x1F3F) | 0x40);
        f.StatusWord = (ushort)(words >> 16);
        f.LastOpcode = (ushort)((tags >> 16) & 0x7FF);
        f.LastInstructionOffset = ip;
        f.LastInstructionSelector = (ushort)cs;
        f.LastDataOffset = dp;
        f.LastDataSelector = (ushort)ds;
        for (int k = 0; k < 8; k++)
            f.Registers[f.PhysicalIndex(k)] = regs[k];

        // The abridged byte says only empty or not; the full tags follow the contents.
        for (int p = 0; p < 8; p++)
            f.SetTag(p, (tags & (1u << p)) == 0 ? FpuState.TagEmpty : FpuState.TagOf(f.Registers[p]));
        c.FpuUpdateErrorSummary();
    }
}

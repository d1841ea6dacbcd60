namespace MiniHv.Cpu;

/// <summary>
/// The x87 instructions on a CPU without an FPU, as a 486SX runs them: with CR0.EM or CR0.TS set every ESC
/// instruction (opcodes D8-DF) raises #NM, so that an emulator in the kernel (Linux's math-emu) or a lazy FPU
/// switch gets control; otherwise #UD. WAIT/FWAIT raises #NM when CR0.TS and CR0.MP are both set and is
/// otherwise a no-op (there is no FPU to wait for). An x87 unit, when it comes, replaces the #UD branch only.
/// </summary>
public sealed partial class Cpu
{
    /// <summary>An ESC (x87) instruction: #NM under CR0.EM or CR0.TS, #UD without them.</summary>
    internal static void FpuEscape(Cpu c, ref Insn i)
    {
        if ((c._cr0 & (CR0_EM | CR0_TS)) != 0)
            throw c.Fault(Vectors.NM);
        throw c.Fault(Vectors.UD);
    }

    /// <summary>WAIT/FWAIT: #NM when CR0.TS and CR0.MP are both set (an FPU context switch is pending).</summary>
    internal static void FpuWait(Cpu c, ref Insn i)
    {
        if ((c._cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
            throw c.Fault(Vectors.NM);
    }
}

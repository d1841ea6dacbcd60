using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>
/// F2XM1 (ST(0) = 2^ST(0) - 1) and the three that write ST(1) and pop: FYL2X (ST(1) * log2 ST(0)),
/// FYL2XP1 (ST(1) * log2(ST(0) + 1)) and FPATAN (the angle of ST(0), ST(1)). An empty operand register is
/// a stack underflow whose masked response writes the indefinite (and pops); an unmasked invalid, denormal
/// or zero-divide exception leaves the stack as it was.
/// </summary>
public sealed unsafe partial class Cpu
{
    // Insn.Op of FpuTranscendental.
    internal const byte F2xm1 = 0, FYl2x = 1, FYl2xp1 = 2, FPatan = 3;

    internal static void FpuTranscendental(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        if (i.Op == F2xm1)
        {
            if (f.IsEmpty(0))
            {
                c.FpuUnderflow(0, 0);
                return;
            }

            var r = SoftFloat80.TwoToXMinus1(ref ctx, f.St(0));
            if (c.FpuSignal(ref ctx))
                f.SetSt(0, r);
            return;
        }

        if (f.IsEmpty(0) || f.IsEmpty(1))
        {
            c.FpuUnderflow(1, 1);
            return;
        }

        Float80 a = f.St(0), b = f.St(1);
        var result = i.Op switch
        {
            FYl2x => SoftFloat80.YLog2X(ref ctx, a, b),
            FYl2xp1 => SoftFloat80.YLog2XPlus1(ref ctx, a, b),
            _ => SoftFloat80.ArcTangent(ref ctx, a, b),
        };
        if (!c.FpuSignal(ref ctx))
            return;
        f.SetSt(1, result);
        c.FpuPop();
    }
}

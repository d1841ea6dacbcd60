using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>
/// FSIN, FCOS, FSINCOS and FPTAN as QEMU 7.2 computes them, which is what MiniHv is compared with: ST(0)
/// rounded to a double by the rounding control, the host's libm (sin, cos, tan on the same glibc QEMU
/// uses) and the double result rounded back by the precision control. An operand beyond ±2^63, infinities
/// included, sets C2 and leaves ST(0) unchanged; otherwise C2 is cleared. Like QEMU 7.2 they report no
/// exception flags (a real x87 reports PE, IE for infinities and SNaNs, and reduces its argument with a
/// 66-bit pi, so its last bits differ).
/// </summary>
public sealed unsafe partial class Cpu
{
    // Insn.Op of FpuTrigonometry.
    internal const byte FSin = 0, FCos = 1, FSinCos = 2, FPtan = 3;

    private const double MaxTrigOperand = 9223372036854775808.0; // 2^63

    internal static void FpuTrigonometry(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        if (f.IsEmpty(0))
        {
            c.FpuUnderflow(0, 0);
            return;
        }

        var ctx = c.FpuContext();
        var discard = ctx;
        double x = BitConverter.UInt64BitsToDouble(Float80Conversions.ToDouble(ref discard, f.St(0)));
        if (x > MaxTrigOperand || x < -MaxTrigOperand)
        {
            f.StatusFlags |= FpuState.SwC2;
            return;
        }

        f.StatusFlags &= unchecked((ushort)~FpuState.SwC2);
        switch (i.Op)
        {
            case FSin:
                f.SetSt(0, FromHostDouble(ctx, Math.Sin(x)));
                break;
            case FCos:
                f.SetSt(0, FromHostDouble(ctx, Math.Cos(x)));
                break;
            case FSinCos:
            {
                f.SetSt(0, FromHostDouble(ctx, Math.Sin(x)));
                var push = ctx;
                push.Flags = 0;
                c.FpuPush(FromHostDouble(ctx, Math.Cos(x)), ref push);
                break;
            }

            default:
            {
                f.SetSt(0, FromHostDouble(ctx, Math.Tan(x)));
                var push = ctx;
                push.Flags = 0;
                c.FpuPush(Float80.One, ref push);
                break;
            }
        }
    }

    /// <summary>A host double as a register value, rounded by the precision control (as QEMU 7.2's conversion does).</summary>
    private static Float80 FromHostDouble(FloatContext ctx, double d)
    {
        var r = Float80Conversions.FromDouble(ref ctx, BitConverter.DoubleToUInt64Bits(d));
        if (r.IsZero || r.IsInfinity || r.IsNaN || ctx.PrecisionBits == 64)
            return r;
        var (m, e) = SoftFloat80.Normalize(r);
        return FloatRounding.RoundToRegister(ref ctx, r.Sign, e, (UInt128)m << 64);
    }
}

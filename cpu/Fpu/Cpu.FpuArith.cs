using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>x87 arithmetic, compares and the one-operand instructions on ST(0).</summary>
public sealed unsafe partial class Cpu
{
    // Insn.Op of FpuArith: the ModR/M reg field of D8 /r.
    internal const byte FAdd = 0, FMul = 1, FSub = 4, FSubr = 5, FDiv = 6, FDivr = 7;

    // Insn.Imm bits of FpuArith and FpuStore: the destination is ST(i) (not ST(0)); pop once after.
    internal const uint FDestSti = 1, FPop = 2;

    // Insn.Imm bit of FpuControl: the 9B-prefixed form (FSTCW, FSAVE, ...), which waits for pending exceptions first.
    internal const uint FWaitForm = 4;

    /// <summary>FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR and their P and I forms: dest = dest op src.</summary>
    internal static void FpuArith(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        bool destSti = (i.Imm & FDestSti) != 0;
        int dst = destSti ? i.R0 : 0;
        int pops = (i.Imm & FPop) != 0 ? 1 : 0;
        Float80 src;
        if ((i.Form & FormOp0Mem) != 0)
        {
            src = c.FpuReadMemory(ref i, (int)(i.Imm2 & 0xFF), ref ctx);
            if (f.IsEmpty(0))
            {
                c.FpuUnderflow(0, 0);
                return;
            }
        }
        else
        {
            int s = destSti ? 0 : i.R0;
            if (f.IsEmpty(dst) || f.IsEmpty(s))
            {
                c.FpuUnderflow(dst, pops);
                return;
            }

            src = f.St(s);
        }

        Float80 a = f.St(dst);
        Float80 r = i.Op switch
        {
            FAdd => SoftFloat80.Add(ref ctx, a, src),
            FMul => SoftFloat80.Mul(ref ctx, a, src),
            FSub => SoftFloat80.Sub(ref ctx, a, src),
            FSubr => SoftFloat80.Sub(ref ctx, src, a),
            FDiv => SoftFloat80.Div(ref ctx, a, src),
            _ => SoftFloat80.Div(ref ctx, src, a),
        };
        if (!c.FpuSignal(ref ctx))
            return;
        f.SetSt(dst, r);
        if (pops != 0)
            c.FpuPop();
    }

    // Insn.Op bits of FpuCompare: unordered compare (FUCOM), result in EFLAGS (FCOMI).
    internal const byte FCmpQuiet = 1, FCmpEflags = 2;

    /// <summary>FCOM/FCOMP/FCOMPP, FUCOM*, FICOM*, FCOMI*/FUCOMI* and FTST (Imm2 format FmtNone, against +0). Imm is the pop count.</summary>
    internal static void FpuCompare(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        int pops = (int)i.Imm;
        Float80 b;
        bool empty = f.IsEmpty(0);
        if ((i.Form & FormOp0Mem) != 0)
        {
            b = c.FpuReadMemory(ref i, (int)(i.Imm2 & 0xFF), ref ctx);
        }
        else if ((i.Imm2 & 0xFF) == FmtNone && i.R0 == 0xFF)
        {
            b = Float80.PositiveZero;
        }
        else
        {
            empty |= f.IsEmpty(i.R0);
            b = f.St(i.R0 & 7);
        }

        FloatRelation rel;
        if (empty)
        {
            StackFault(ref ctx, f, false);
            rel = FloatRelation.Unordered;
        }
        else
        {
            rel = SoftFloat80.Compare(ref ctx, f.St(0), b, (i.Op & FCmpQuiet) != 0);
        }

        if (!c.FpuSignal(ref ctx))
            return;
        if ((i.Op & FCmpEflags) != 0)
        {
            uint bits = rel switch
            {
                FloatRelation.Less => CF,
                FloatRelation.Equal => ZF,
                FloatRelation.Greater => 0u,
                _ => ZF | PF | CF,
            };
            c.SetEflags((c.GetEflags() & ~(CF | PF | AF | ZF | SF | OF)) | bits);
        }
        else
        {
            ushort cc = rel switch
            {
                FloatRelation.Less => FpuState.SwC0,
                FloatRelation.Equal => FpuState.SwC3,
                FloatRelation.Greater => 0,
                _ => FpuState.SwC0 | FpuState.SwC2 | FpuState.SwC3,
            };
            ushort keepC1 = empty ? FpuState.SwC1 : (ushort)0;
            f.StatusFlags = (ushort)((f.StatusFlags & ~FpuState.SwConditionCodes) | cc | (f.StatusFlags & keepC1));
        }

        for (int k = 0; k < pops; k++)
            c.FpuPop();
    }

    // Insn.Op of FpuUnary.
    internal const byte FChs = 0, FAbs = 1, FSqrt = 2, FRndint = 3, FXtract = 4, FScale = 5, FPrem = 6, FPrem1 = 7, FXam = 8;

    /// <summary>The instructions that work on ST(0) (and ST(1) for FSCALE, FPREM, FPREM1).</summary>
    internal static void FpuUnary(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        if (i.Op == FXam)
        {
            Examine(f);
            return;
        }

        bool two = i.Op is FScale or FPrem or FPrem1;
        if (f.IsEmpty(0) || (two && f.IsEmpty(1)))
        {
            if (i.Op == FXtract)
            {
                StackFault(ref ctx, f, false);
                if (c.FpuSignal(ref ctx))
                {
                    f.SetSt(0, Float80.Indefinite);
                    c.FpuPush(Float80.Indefinite, ref ctx);
                }

                return;
            }

            c.FpuUnderflow(0, 0);
            return;
        }

        Float80 a = f.St(0);
        switch (i.Op)
        {
            case FChs:
            case FAbs:
                f.SetSt(0, i.Op == FChs ? a.Negate() : a.Abs());
                f.StatusFlags &= unchecked((ushort)~FpuState.SwC1);
                return;
            case FSqrt:
            {
                var r = SoftFloat80.Sqrt(ref ctx, a);
                if (c.FpuSignal(ref ctx))
                    f.SetSt(0, r);
                return;
            }

            case FRndint:
            {
                var r = SoftFloat80.RoundToInteger(ref ctx, a);
                if (c.FpuSignal(ref ctx))
                    f.SetSt(0, r);
                return;
            }

            case FScale:
            {
                var r = SoftFloat80.Scale(ref ctx, a, f.St(1));
                if (c.FpuSignal(ref ctx))
                    f.SetSt(0, r);
                return;
            }

            case FXtract:
                Extract(c, a, ref ctx);
                return;
            default:
            {
                var r = SoftFloat80.Remainder(ref ctx, a, f.St(1), i.Op == FPrem1);
                f.StatusFlags &= unchecked((ushort)~FpuState.SwConditionCodes);
                if (!c.FpuSignal(ref ctx))
                    return;
                f.SetSt(0, r.Value);
                ushort cc = r.Complete ? (ushort)0 : FpuState.SwC2;
                if ((r.QuotientLow & 4) != 0)
                    cc |= FpuState.SwC0;
                if ((r.QuotientLow & 2) != 0)
                    cc |= FpuState.SwC3;
                if ((r.QuotientLow & 1) != 0)
                    cc |= FpuState.SwC1;
                f.StatusFlags = (ushort)((f.StatusFlags & ~FpuState.SwConditionCodes) | cc);
                return;
            }
        }
    }

    /// <summary>FXTRACT: ST(0) becomes the unbiased exponent and the significand (exponent 0) is pushed.</summary>
    private static void Extract(Cpu c, Float80 a, ref FloatContext ctx)
    {
        var f = c.Fpu;
        Float80 exponent, significand;
        if (SoftFloat80.PropagateNaN(ref ctx, a) is Float80 nan)
        {
            exponent = significand = nan;
        }
        else if (a.IsZero)
        {
            ctx.Raise(FloatContext.ZeroDivide);
            exponent = Float80.Infinity(true);
            significand = a;
        }
        else if (a.IsInfinity)
        {
            exponent = Float80.Infinity(false);
            significand = a;
        }
        else
        {
            SoftFloat80.CheckDenormal(ref ctx, a);
            var (m, e) = SoftFloat80.Normalize(a);
            exponent = Float80Conversions.FromInt64(e);
            significand = Float80.Make(a.Sign, Float80.Bias, m);
        }

        if (!f.IsEmpty(7))
        {
            StackFault(ref ctx, f, true);
            exponent = significand = Float80.Indefinite;
        }

        if (!c.FpuSignal(ref ctx))
            return;
        f.SetSt(0, exponent);
        f.Top = (f.Top - 1) & 7;
        f.SetSt(0, significand);
    }

    /// <summary>FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1; no exceptions.</summary>
    private static void Examine(FpuState f)
    {
        Float80 a = f.St(0);
        ushort cc;
        if (f.IsEmpty(0))
            cc = FpuState.SwC3 | FpuState.SwC0;
        else if (a.IsUnsupported)
            cc = 0;
        else if (a.IsNaN)
            cc = FpuState.SwC0;
        else if (a.IsInfinity)
            cc = FpuState.SwC2 | FpuState.SwC0;
        else if (a.IsZero)
            cc = FpuState.SwC3;
        else if (a.IsDenormal)
            cc = FpuState.SwC3 | FpuState.SwC2;
        else
            cc = FpuState.SwC2;
        if (a.Sign)
            cc |= FpuState.SwC1;
        f.StatusFlags = (ushort)((f.StatusFlags & ~FpuState.SwConditionCodes) | cc);
    }
}

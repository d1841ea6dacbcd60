using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <summary>x87 loads, stores, constants, FXCH and FCMOVcc.</summary>
public sealed unsafe partial class Cpu
{
    // Insn.Op of FpuLoad: from memory or ST(i), or one of the constants.
    internal const byte FLoadOperand = 0, FLd1 = 1, FLdL2T = 2, FLdL2E = 3, FLdPi = 4, FLdLg2 = 5, FLdLn2 = 6, FLdZ = 7;

    // The constants to 128 bits (computed from their series), rounded to 64 bits by the rounding control as
    // the SDM specifies for FLDPI, FLDL2T, FLDL2E, FLDLG2 and FLDLN2: (unbiased exponent, high, low).
    private static readonly (int Exp, ulong High, ulong Low)[] Constants =
    [
        (0, 0, 0),
        (0, 0x8000_0000_0000_0000, 0),
        (1, 0xD49A_784B_CD1B_8AFE, 0x492B_F6FF_4DAF_DB4C),
        (0, 0xB8AA_3B29_5C17_F0BB, 0xBE87_FED0_691D_3E88),
        (1, 0xC90F_DAA2_2168_C234, 0xC4C6_628B_80DC_1CD1),
        (-2, 0x9A20_9A84_FBCF_F798, 0x8F89_59AC_0B7C_9178),
        (-1, 0xB172_17F7_D1CF_79AB, 0xC9E3_B398_03F2_F6AF),
    ];

    internal static void FpuLoad(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        Float80 v;
        if (i.Op == FLdZ)
        {
            v = Float80.PositiveZero;
        }
        else if (i.Op != FLoadOperand)
        {
            var (e, hi, lo) = Constants[i.Op];
            var rounding = ctx;
            v = FloatRounding.RoundToExtended64(ref rounding, false, e, new UInt128(hi, lo));
        }
        else if ((i.Form & FormOp0Mem) != 0)
        {
            v = c.FpuReadMemory(ref i, (int)(i.Imm2 & 0xFF), ref ctx);
        }
        else if (f.IsEmpty(i.R0))
        {
            StackFault(ref ctx, f, false);
            v = Float80.Indefinite;
        }
        else
        {
            v = f.St(i.R0);
        }

        c.FpuPush(v, ref ctx);
    }

    /// <summary>FST/FSTP to memory in every format, FIST/FISTP, FBSTP, and FST/FSTP ST(i). Imm bit FPop pops.</summary>
    internal static void FpuStore(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        var ctx = c.FpuContext();
        bool pop = (i.Imm & FPop) != 0;
        bool empty = f.IsEmpty(0);
        Float80 v = empty ? Float80.Indefinite : f.St(0);
        if (empty)
            StackFault(ref ctx, f, false);
        if ((i.Form & FormOp0Mem) == 0)
        {
            if (!c.FpuSignal(ref ctx))
                return;
            f.SetSt(i.R0, v);
            if (pop)
                c.FpuPop();
            return;
        }

        int format = (int)(i.Imm2 & 0xFF);
        uint lin = c.Linear(ref i, MemorySize(format), true);
        c.ProbeWrite(lin, MemorySize(format));
        switch (format)
        {
            case FmtF32:
            {
                uint bits = empty ? 0xFFC0_0000 : Float80Conversions.ToSingle(ref ctx, v);
                if (!c.FpuSignal(ref ctx, true))
                    return;
                c.Write(lin, 4, bits);
                break;
            }

            case FmtF64:
            {
                ulong bits = empty ? 0xFFF8_0000_0000_0000 : Float80Conversions.ToDouble(ref ctx, v);
                if (!c.FpuSignal(ref ctx, true))
                    return;
                c.Write64(lin, bits);
                break;
            }

            case FmtF80:
                if (!c.FpuSignal(ref ctx, true))
                    return;
                c.WriteFloat80(lin, v);
                break;
            case FmtI16:
            case FmtI32:
            case FmtI64:
            {
                int bits = format == FmtI16 ? 16 : format == FmtI32 ? 32 : 64;
                long n = empty ? long.MinValue : Float80Conversions.ToInteger(ref ctx, v, bits);
                if (!c.FpuSignal(ref ctx, true))
                    return;
                if (bits == 64)
                    c.Write64(lin, (ulong)n);
                else
                    c.Write(lin, bits / 8, bits == 16 ? (uint)(empty ? 0x8000 : n & 0xFFFF) : (uint)(empty ? 0x8000_0000 : n));
                break;
            }

            default:
            {
                Span<byte> bcd = stackalloc byte[10];
                Float80Conversions.ToPackedBcd(ref ctx, v, bcd);
                if (!c.FpuSignal(ref ctx, true))
                    return;
                for (int k = 0; k < 10; k++)
                    c.Write(lin + (uint)k, 1, bcd[k]);
                break;
            }
        }

        if (pop)
            c.FpuPop();
    }

    /// <summary>FXCH ST(i): an empty operand is an underflow whose masked response swaps in the indefinite.</summary>
    internal static void FpuExchange(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(i.R0))
        {
            var ctx = c.FpuContext();
            StackFault(ref ctx, f, false);
            if (!c.FpuSignal(ref ctx))
                return;
            if (f.IsEmpty(0))
                f.SetSt(0, Float80.Indefinite);
            if (f.IsEmpty(i.R0))
                f.SetSt(i.R0, Float80.Indefinite);
        }

        Float80 a = f.St(0);
        f.SetSt(0, f.St(i.R0));
        f.SetSt(i.R0, a);
        f.StatusFlags &= unchecked((ushort)~FpuState.SwC1);
    }

    /// <summary>FCMOVcc ST(0), ST(i): Op is the condition (0 B, 1 E, 2 BE, 3 U; +4 negates).</summary>
    internal static void FpuConditionalMove(Cpu c, ref Insn i)
    {
        c.FpuEnter(ref i);
        var f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(i.R0))
        {
            c.FpuUnderflow(0, 0);
            return;
        }

        uint fl = c.GetEflags();
        bool cond = (i.Op & 3) switch
        {
            0 => (fl & CF) != 0,
            1 => (fl & ZF) != 0,
            2 => (fl & (CF | ZF)) != 0,
            _ => (fl & PF) != 0,
        };
        if ((i.Op & 4) != 0)
            cond = !cond;
        if (cond)
            f.SetSt(0, f.St(i.R0));
    }
}

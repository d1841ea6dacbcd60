namespace MiniHv.Cpu.Fpu;

public static partial class SoftFloat80
{
    /// <summary>The outcome of FPREM or FPREM1: the (partial) remainder, the quotient's low three bits, and whether it is complete.</summary>
    public readonly record struct PartialRemainder(Float80 Value, int QuotientLow, bool Complete);

    /// <summary>
    /// FPREM (<paramref name="nearest"/> false: the quotient truncated) and FPREM1 (nearest, ties to even).
    /// When the exponents differ by 64 or more the instruction only reduces the operand: it divides by
    /// ST(1) scaled by 2^(d - n) with n = 32 + d mod 32 and a truncated quotient, the amount AMD's manuals
    /// give and Intel processors (and QEMU 7.2) follow, and reports the remainder incomplete (C2).
    /// </summary>
    public static PartialRemainder Remainder(ref FloatContext c, Float80 a, Float80 b, bool nearest)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a, b) is Float80 nan)
            return new(nan, 0, true);
        if (a.IsInfinity || b.IsZero)
        {
            if (!a.IsInfinity)
                CheckDenormal(ref c, a);
            return new(Invalid(ref c), 0, true);
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero || b.IsInfinity)
            return new(a, 0, true);
        var (ma, ea) = Normalize(a);
        var (mb, eb) = Normalize(b);
        int d = ea - eb;
        if (d >= 64)
        {
            int n = 32 + (d % 32);
            UInt128 scaled = (UInt128)ma << n;
            UInt128 rest = scaled % mb;

            // The remainder is in units of 2^(ea - n - 63).
            var partial = rest == UInt128.Zero
                ? Float80.Zero(a.Sign)
                : FloatRounding.RoundToExtended64(ref c, a.Sign, ea - n - 63 + 127, rest);
            return new(partial, 0, false);
        }

        if (d < -1)
            return new(a, 0, true);

        // Both scaled by one extra bit so that d = -1 (a possible FPREM1 step) stays integral.
        UInt128 num = (UInt128)ma << (d + 1), den = (UInt128)mb << 1;
        UInt128 q = num / den, r = num % den;
        bool sign = a.Sign;
        if (nearest && (r * 2 > den || (r * 2 == den && (q & 1) != 0)))
        {
            r = den - r;
            q++;
            sign = !sign;
        }

        int qLow = (int)(q & 7);
        if (r == UInt128.Zero)
            return new(Float80.Zero(a.Sign), qLow, true);

        // r is in units of 2^(eb - 64).
        return new(FloatRounding.RoundToExtended64(ref c, sign, eb - 64 + 127, r), qLow, true);
    }
}

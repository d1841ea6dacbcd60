namespace MiniHv.Cpu.Fpu;

/// <summary>
/// Rounds an exact intermediate result (a sign, an exponent and a 128-bit significand whose low bit is
/// sticky) to a format, as IEEE 754 and the Intel SDM define it: the rounding control, tininess detected
/// after rounding (as x86 does), masked underflow giving a denormal and masked overflow giving infinity or
/// the largest finite value by rounding direction, and the unmasked responses for register results (the
/// exponent wrapped by 24576 = 3 * 2^13).
/// </summary>
public static class FloatRounding
{
    /// <summary>Exponent adjustment the x87 applies to a register result when OE or UE is unmasked.</summary>
    public const int WrapBias = 24576;

    /// <summary>
    /// Round sig * 2^(exp - 127) to <paramref name="f"/>. <paramref name="registerDestination"/> selects the
    /// unmasked overflow and underflow responses for results that stay on the register stack.
    /// </summary>
    public static Rounded Round(ref FloatContext c, bool sign, int exp, UInt128 sig, FloatFormat f, bool registerDestination)
    {
        c.RoundedUp = false;
        if (sig == UInt128.Zero)
            return new Rounded(sign, f.MinExp - 1, 0, false);
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        exp -= lz;
        int p = f.Precision;
        int drop = 128 - p;

        if (exp < f.MinExp)
        {
            bool tiny = exp < f.MinExp - 1 || !CarriesOut(sig, drop, sign, c.Rounding, p);
            bool wrap = tiny && !c.IsMasked(FloatContext.Underflow);
            if (wrap)
            {
                c.Raise(FloatContext.Underflow);
                if (registerDestination)
                    exp += WrapBias;
            }

            if (!wrap)
            {
                sig = ShiftRightJam(sig, f.MinExp - exp);
                var (keep, inexact, up) = RoundAt(sig, drop, sign, c.Rounding);
                if (inexact)
                {
                    c.Raise(FloatContext.Precision);
                    if (tiny)
                        c.Raise(FloatContext.Underflow);
                }

                c.RoundedUp = up;

                // Rounding a denormal up may reach the smallest normal value; the exponent then reads as normal.
                return new Rounded(sign, keep >> (p - 1) != 0 ? f.MinExp : f.MinExp - 1, (ulong)keep, false);
            }
        }

        var (k, inx, u) = RoundAt(sig, drop, sign, c.Rounding);
        if (k >> p != 0)
        {
            k >>= 1;
            exp++;
        }

        if (inx)
            c.Raise(FloatContext.Precision);
        c.RoundedUp = u;
        if (exp <= f.MaxExp)
            return new Rounded(sign, exp, (ulong)k, false);

        c.Raise(FloatContext.Overflow | FloatContext.Precision);
        if (!c.IsMasked(FloatContext.Overflow))
            return new Rounded(sign, registerDestination ? exp - WrapBias : exp, (ulong)k, false);
        bool toInfinity = c.Rounding switch { 0 => true, 1 => sign, 2 => !sign, _ => false };
        c.RoundedUp = toInfinity;
        ulong max = p == 64 ? ulong.MaxValue : (1ul << p) - 1;
        return toInfinity ? new Rounded(sign, f.MaxExp + 1, 0, true) : new Rounded(sign, f.MaxExp, max, false);
    }

    /// <summary>Round to an extended register result with the context's precision and pack it.</summary>
    public static Float80 RoundToRegister(ref FloatContext c, bool sign, int exp, UInt128 sig)
        => PackExtended(Round(ref c, sign, exp, sig, FloatFormat.Extended(c.PrecisionBits), true), c.PrecisionBits);

    /// <summary>Round to an extended result with all 64 significand bits (what the precision control does not cover).</summary>
    public static Float80 RoundToExtended64(ref FloatContext c, bool sign, int exp, UInt128 sig)
        => PackExtended(Round(ref c, sign, exp, sig, FloatFormat.Extended(64), true), 64);

    public static Float80 PackExtended(Rounded r, int precision)
    {
        if (r.Infinite)
            return Float80.Infinity(r.Sign);
        ulong mant = r.Significand << (64 - precision);
        if (mant == 0)
            return Float80.Zero(r.Sign);
        int field = (mant & Float80.IntegerBit) == 0 ? 0 : r.Exp + Float80.Bias;
        return Float80.Make(r.Sign, field, mant);
    }

    /// <summary>Keep the top (128 - drop) bits, rounded in the given direction; returns the kept bits, inexact and whether it rounded up.</summary>
    internal static (UInt128 Keep, bool Inexact, bool Up) RoundAt(UInt128 sig, int drop, bool sign, int rounding)
    {
        UInt128 keep = sig >> drop;
        UInt128 rest = sig & ((UInt128.One << drop) - 1);
        if (rest == UInt128.Zero)
            return (keep, false, false);
        UInt128 half = UInt128.One << (drop - 1);
        bool up = rounding switch
        {
            0 => rest > half || (rest == half && (keep & 1) != 0),
            1 => sign,
            2 => !sign,
            _ => false,
        };
        return (up ? keep + 1 : keep, true, up);
    }

    // True when rounding the normalized significand to p bits carries into a new leading bit.
    private static bool CarriesOut(UInt128 sig, int drop, bool sign, int rounding, int p)
        => RoundAt(sig, drop, sign, rounding).Keep >> p != 0;

    /// <summary>Shift right, OR-ing every bit shifted out into the lowest bit (the sticky bit).</summary>
    public static UInt128 ShiftRightJam(UInt128 v, int count)
    {
        if (count <= 0)
            return v;
        if (count >= 128)
            return v == UInt128.Zero ? UInt128.Zero : UInt128.One;
        UInt128 r = v >> count;
        return (v << (128 - count)) != UInt128.Zero ? r | 1 : r;
    }
}

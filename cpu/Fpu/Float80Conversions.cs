using System.Numerics;

namespace MiniHv.Cpu.Fpu;

/// <summary>
/// Conversions between the register format and the memory formats the x87 loads and stores: single and
/// double precision, 16/32/64-bit integers and 18-digit packed BCD. Loads are exact; stores round by the
/// rounding control (the precision control does not apply to them) and report IE, OE, UE and PE.
/// </summary>
public static class Float80Conversions
{
    // ---- Loads ------------------------------------------------------------------------------------

    public static Float80 FromSingle(ref FloatContext c, uint bits)
        => FromBinary(ref c, (bits & 0x8000_0000) != 0, (int)((bits >> 23) & 0xFF), bits & 0x7F_FFFF, 23, 127);

    public static Float80 FromDouble(ref FloatContext c, ulong bits)
        => FromBinary(ref c, (bits >> 63) != 0, (int)((bits >> 52) & 0x7FF), bits & 0xF_FFFF_FFFF_FFFF, 52, 1023);

    private static Float80 FromBinary(ref FloatContext c, bool sign, int exp, ulong fraction, int fractionBits, int bias)
    {
        int maxExp = (bias * 2) + 1;
        if (exp == maxExp)
        {
            if (fraction == 0)
                return Float80.Infinity(sign);
            var nan = Float80.Make(sign, Float80.MaxExp, Float80.IntegerBit | (fraction << (63 - fractionBits)));
            if (nan.IsSignalingNaN)
            {
                c.Raise(FloatContext.Invalid);
                return nan.Quieted();
            }

            return nan;
        }

        if (exp == 0)
        {
            if (fraction == 0)
                return Float80.Zero(sign);
            c.Raise(FloatContext.DenormalOperand);
            int lz = BitOperations.LeadingZeroCount(fraction);
            int e = 1 - bias - (lz - (63 - fractionBits));
            return Float80.Make(sign, e + Float80.Bias, fraction << lz);
        }

        return Float80.Make(sign, exp - bias + Float80.Bias, Float80.IntegerBit | (fraction << (63 - fractionBits)));
    }

    public static Float80 FromInt64(long value)
        => SoftFloat80.FromMagnitude(value < 0, value < 0 ? (ulong)-(value + 1) + 1 : (ulong)value);

    /// <summary>FBLD: 18 BCD digits (9 bytes, low digit first) and a sign byte. Digits above 9 are not checked, as on Intel parts.</summary>
    public static Float80 FromPackedBcd(ReadOnlySpan<byte> bcd)
    {
        ulong value = 0;
        for (int i = 8; i >= 0; i--)
            value = (value * 100) + (ulong)((bcd[i] >> 4) * 10) + (ulong)(bcd[i] & 0xF);
        return SoftFloat80.FromMagnitude((bcd[9] & 0x80) != 0, value);
    }

    // ---- Stores -----------------------------------------------------------------------------------

    public static uint ToSingle(ref FloatContext c, Float80 a)
        => (uint)ToBinary(ref c, a, FloatFormat.Single, 23, 127);

    public static ulong ToDouble(ref FloatContext c, Float80 a)
        => ToBinary(ref c, a, FloatFormat.Double, 52, 1023);

    private static ulong ToBinary(ref FloatContext c, Float80 a, FloatFormat f, int fractionBits, int bias)
    {
        c.RoundedUp = false;
        ulong signBit = a.Sign ? 1ul << (fractionBits + (fractionBits == 23 ? 8 : 11)) : 0;
        ulong expAll = (ulong)((bias * 2) + 1) << fractionBits;
        if (a.IsUnsupported)
        {
            c.Raise(FloatContext.Invalid);
            return (1ul << (fractionBits + (fractionBits == 23 ? 8 : 11))) | expAll | (1ul << (fractionBits - 1));
        }

        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
                c.Raise(FloatContext.Invalid);
            return signBit | expAll | (1ul << (fractionBits - 1)) | ((a.Mantissa << 1) >> (64 - fractionBits));
        }

        if (a.IsInfinity)
            return signBit | expAll;
        if (a.IsZero)
            return signBit;
        var (m, e) = SoftFloat80.Normalize(a);
        var r = FloatRounding.Round(ref c, a.Sign, e, (UInt128)m << 64, f, false);
        if (r.Infinite)
            return signBit | expAll;
        ulong fraction = r.Significand & ((1ul << fractionBits) - 1);
        bool normal = (r.Significand >> fractionBits) != 0;
        ulong field = normal ? (ulong)(r.Exp + bias) : 0;
        return signBit | (field << fractionBits) | fraction;
    }

    /// <summary>
    /// FIST/FISTP: round by the rounding control to a signed integer of <paramref name="bits"/> bits. NaNs,
    /// infinities and values out of range raise IE and give the integer indefinite (the most negative value).
    /// </summary>
    public static long ToInteger(ref FloatContext c, Float80 a, int bits)
    {
        c.RoundedUp = false;
        long indefinite = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        if (a.IsNaN || a.IsInfinity || a.IsUnsupported)
        {
            c.Raise(FloatContext.Invalid);
            return indefinite;
        }

        SoftFloat80.CheckDenormal(ref c, a);
        var (mag, inexact, up, tooLarge) = SoftFloat80.RoundToIntegerMagnitude(a, c.Rounding);
        UInt128 limit = (UInt128)1 << (bits - 1);
        if (tooLarge || mag > limit || (mag == limit && !a.Sign))
        {
            c.Raise(FloatContext.Invalid);
            return indefinite;
        }

        if (inexact)
            c.Raise(FloatContext.Precision);
        c.RoundedUp = up;
        return a.Sign ? -(long)(ulong)(mag - 1) - 1 : (long)(ulong)mag;
    }

    /// <summary>FBSTP: round to an integer and store 18 BCD digits; beyond 18 digits, IE and the BCD indefinite.</summary>
    public static void ToPackedBcd(ref FloatContext c, Float80 a, Span<byte> bcd)
    {
        c.RoundedUp = false;
        bcd.Clear();
        UInt128 mag = UInt128.Zero;
        bool invalid = a.IsNaN || a.IsInfinity || a.IsUnsupported;
        if (!invalid)
        {
            SoftFloat80.CheckDenormal(ref c, a);
            var r = SoftFloat80.RoundToIntegerMagnitude(a, c.Rounding);
            invalid = r.TooLarge || r.Magnitude > 999_999_999_999_999_999ul;
            if (!invalid)
            {
                if (r.Inexact)
                    c.Raise(FloatContext.Precision);
                c.RoundedUp = r.Up;
                mag = r.Magnitude;
            }
        }

        if (invalid)
        {
            c.Raise(FloatContext.Invalid);
            bcd[9] = 0xFF;
            bcd[8] = 0xFF;
            bcd[7] = 0xC0;
            return;
        }

        ulong v = (ulong)mag;
        for (int i = 0; i < 9; i++)
        {
            bcd[i] = (byte)((v % 10) | ((v / 10 % 10) << 4));
            v /= 100;
        }

        bcd[9] = a.Sign ? (byte)0x80 : (byte)0;
    }
}

using System.Numerics;

namespace MiniHv.Cpu.Fpu;

/// <remarks>
/// Exact double extended-precision arithmetic, written from IEEE 754 and the Intel SDM (volume 1, chapter
/// 4 and 8). Every operation computes the exact result into a 128-bit significand with a sticky bit and
/// rounds it once (<see cref="FloatRounding"/>). NaNs propagate as the x87 does (SDM table 4-7: a QNaN
/// operand wins over an SNaN, otherwise the larger significand; an SNaN is quieted and raises IE);
/// unsupported encodings (unnormals, pseudo-NaNs, pseudo-infinities) are invalid operands.
/// The results of an operation whose IE, DE or ZE is unmasked are computed all the same: the caller
/// discards them, since the x87 leaves the destination unchanged then.
/// </remarks>
public static partial class SoftFloat80
{
    // ---- Operands ---------------------------------------------------------------------------------

    /// <summary>The unbiased exponent of a finite value's integer bit position (denormals count as exponent 1).</summary>
    internal static int UnbiasedExp(Float80 a) => (a.Exp == 0 ? 1 : a.Exp) - Float80.Bias;

    /// <summary>NaN or unsupported operands of a two-operand operation: the result, or null when neither is one.</summary>
    internal static Float80? PropagateNaN(ref FloatContext c, Float80 a, Float80 b)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            c.Raise(FloatContext.Invalid);
            return Float80.Indefinite;
        }

        if (!a.IsNaN && !b.IsNaN)
            return null;
        if (a.IsSignalingNaN || b.IsSignalingNaN)
            c.Raise(FloatContext.Invalid);
        if (!b.IsNaN)
            return a.Quieted();
        if (!a.IsNaN)
            return b.Quieted();
        if (a.IsSignalingNaN != b.IsSignalingNaN)
            return a.IsSignalingNaN ? b : a;
        ulong ma = a.Mantissa | Float80.QuietBit, mb = b.Mantissa | Float80.QuietBit;
        if (ma != mb)
            return (ma > mb ? a : b).Quieted();
        return (a.Sign ? b : a).Quieted();
    }

    internal static Float80? PropagateNaN(ref FloatContext c, Float80 a)
    {
        if (a.IsUnsupported)
        {
            c.Raise(FloatContext.Invalid);
            return Float80.Indefinite;
        }

        if (!a.IsNaN)
            return null;
        if (a.IsSignalingNaN)
            c.Raise(FloatContext.Invalid);
        return a.Quieted();
    }

    internal static void CheckDenormal(ref FloatContext c, Float80 a)
    {
        if (a.IsDenormal)
            c.Raise(FloatContext.DenormalOperand);
    }

    private static Float80 Invalid(ref FloatContext c)
    {
        c.Raise(FloatContext.Invalid);
        return Float80.Indefinite;
    }

    // ---- Add, subtract ----------------------------------------------------------------------------

    public static Float80 Add(ref FloatContext c, Float80 a, Float80 b) => AddSigned(ref c, a, b, false);

    public static Float80 Sub(ref FloatContext c, Float80 a, Float80 b) => AddSigned(ref c, a, b, true);

    private static Float80 AddSigned(ref FloatContext c, Float80 a, Float80 b, bool subtract)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a, b) is Float80 nan)
            return nan;
        if (subtract)
            b = b.Negate();
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsInfinity && b.IsInfinity && a.Sign != b.Sign)
                return Invalid(ref c);
            CheckDenormal(ref c, a);
            CheckDenormal(ref c, b);
            return a.IsInfinity ? a : b;
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero && b.IsZero)
            return Float80.Zero(a.Sign == b.Sign ? a.Sign : c.Rounding == 1);

        // One bit of headroom above the integer bit for the carry of an addition.
        int ea = UnbiasedExp(a), eb = UnbiasedExp(b);
        UInt128 sa = (UInt128)a.Mantissa << 63, sb = (UInt128)b.Mantissa << 63;
        if (a.IsZero)
            ea = eb;
        if (b.IsZero)
            eb = ea;
        bool sign = a.Sign;
        int exp;
        if (ea >= eb)
        {
            sb = FloatRounding.ShiftRightJam(sb, ea - eb);
            exp = ea;
        }
        else
        {
            sa = FloatRounding.ShiftRightJam(sa, eb - ea);
            exp = eb;
        }

        UInt128 sum;
        if (a.Sign == b.Sign)
        {
            sum = sa + sb;
        }
        else if (sa >= sb)
        {
            sum = sa - sb;
        }
        else
        {
            sum = sb - sa;
            sign = b.Sign;
        }

        if (sum == UInt128.Zero)
            return Float80.Zero(c.Rounding == 1);
        return FloatRounding.RoundToRegister(ref c, sign, exp + 1, sum);
    }

    // ---- Multiply, divide, square root ------------------------------------------------------------

    public static Float80 Mul(ref FloatContext c, Float80 a, Float80 b)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a, b) is Float80 nan)
            return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsZero || b.IsZero)
                return Invalid(ref c);
            CheckDenormal(ref c, a);
            CheckDenormal(ref c, b);
            return Float80.Infinity(sign);
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero || b.IsZero)
            return Float80.Zero(sign);
        UInt128 product = (UInt128)a.Mantissa * b.Mantissa;
        return FloatRounding.RoundToRegister(ref c, sign, UnbiasedExp(a) + UnbiasedExp(b) + 1, product);
    }

    public static Float80 Div(ref FloatContext c, Float80 a, Float80 b)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a, b) is Float80 nan)
            return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity)
        {
            if (b.IsInfinity)
                return Invalid(ref c);
            CheckDenormal(ref c, b);
            return Float80.Infinity(sign);
        }

        if (b.IsInfinity)
        {
            CheckDenormal(ref c, a);
            return Float80.Zero(sign);
        }

        if (b.IsZero)
        {
            if (a.IsZero)
                return Invalid(ref c);
            CheckDenormal(ref c, a);
            c.Raise(FloatContext.ZeroDivide);
            return Float80.Infinity(sign);
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero)
            return Float80.Zero(sign);
        var (ma, ea) = Normalize(a);
        var (mb, eb) = Normalize(b);

        // Two steps of long division give a 127-bit quotient; the remainder becomes the sticky bit.
        UInt128 n = (UInt128)ma << 63;
        UInt128 q1 = n / mb, r1 = n % mb;
        UInt128 n2 = r1 << 64;
        UInt128 q2 = n2 / mb, r2 = n2 % mb;
        UInt128 q = (q1 << 64) | q2 | (r2 != UInt128.Zero ? UInt128.One : UInt128.Zero);
        return FloatRounding.RoundToRegister(ref c, sign, ea - eb, q);
    }

    public static Float80 Sqrt(ref FloatContext c, Float80 a)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a) is Float80 nan)
            return nan;
        if (a.IsZero)
            return a;
        if (a.Sign)
            return Invalid(ref c);
        if (a.IsInfinity)
            return a;
        CheckDenormal(ref c, a);
        var (m, e) = Normalize(a);

        // value = m * 2^(e-63); scale m by 2^s (s = 62 or 63, so that e - 63 - s is even) to a 126/127-bit
        // integer, take its 64-bit integer root, then three more root bits by long-hand square root. The
        // remainder left over is the sticky bit.
        int s = ((e - 63 - 62) & 1) == 0 ? 62 : 63;
        UInt128 n = (UInt128)m << s;
        UInt128 root = IntegerSqrt(n);
        UInt128 rem = n - (root * root);
        for (int k = 0; k < 3; k++)
        {
            rem <<= 2;
            UInt128 trial = (root << 2) | 1;
            root <<= 1;
            if (rem >= trial)
            {
                rem -= trial;
                root |= 1;
            }
        }

        if (rem != UInt128.Zero)
            root |= 1;
        int k2 = (e - 63 - s) / 2;

        // root carries 3 extra fraction bits (and the sticky bit) below the square root of n.
        return FloatRounding.RoundToRegister(ref c, false, k2 - 3 + 127, root);
    }

    /// <summary>floor(sqrt(n)) for n below 2^127: a double estimate, one Newton step, then exact correction.</summary>
    private static UInt128 IntegerSqrt(UInt128 n)
    {
        UInt128 r = (UInt128)(ulong)Math.Sqrt((double)n);
        if (r != UInt128.Zero)
            r = (r + (n / r)) >> 1;
        while (r * r > n)
            r--;
        while ((r + 1) * (r + 1) <= n)
            r++;
        return r;
    }

    /// <summary>A finite non-zero value's significand shifted so its top bit is set, with the matching unbiased exponent.</summary>
    internal static (ulong Mantissa, int Exp) Normalize(Float80 a)
    {
        int lz = BitOperations.LeadingZeroCount(a.Mantissa);
        return (a.Mantissa << lz, UnbiasedExp(a) - lz);
    }

    // ---- Compare ----------------------------------------------------------------------------------

    /// <summary>
    /// Compare a with b. <paramref name="quiet"/> (FUCOM) raises IE only for SNaNs; the ordinary compare
    /// (FCOM, FCOMI, FTST) raises it for every NaN.
    /// </summary>
    public static FloatRelation Compare(ref FloatContext c, Float80 a, Float80 b, bool quiet)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            c.Raise(FloatContext.Invalid);
            return FloatRelation.Unordered;
        }

        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN)
                c.Raise(FloatContext.Invalid);
            return FloatRelation.Unordered;
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero && b.IsZero)
            return FloatRelation.Equal;
        if (a.Sign != b.Sign)
            return a.Sign ? FloatRelation.Less : FloatRelation.Greater;
        int mag = CompareMagnitude(a, b);
        if (a.Sign)
            mag = -mag;
        return mag < 0 ? FloatRelation.Less : mag > 0 ? FloatRelation.Greater : FloatRelation.Equal;
    }

    private static int CompareMagnitude(Float80 a, Float80 b)
    {
        if (a.IsInfinity || b.IsInfinity)
            return a.IsInfinity == b.IsInfinity ? 0 : a.IsInfinity ? 1 : -1;
        if (a.IsZero || b.IsZero)
            return a.IsZero == b.IsZero ? 0 : a.IsZero ? -1 : 1;
        var (ma, ea) = Normalize(a);
        var (mb, eb) = Normalize(b);
        if (ea != eb)
            return ea < eb ? -1 : 1;
        return ma.CompareTo(mb);
    }

    // ---- Round to integer, scale, extract ---------------------------------------------------------

    /// <summary>
    /// A finite value rounded to an integer by the rounding control: the magnitude (which may need up to 64
    /// bits and more for huge values, then saturating as "too large") and whether it was inexact.
    /// </summary>
    internal static (UInt128 Magnitude, bool Inexact, bool Up, bool TooLarge) RoundToIntegerMagnitude(Float80 a, int rounding)
    {
        if (a.IsZero)
            return (UInt128.Zero, false, false, false);
        int e = UnbiasedExp(a);
        if (e >= 64)
            return (UInt128.Zero, false, false, true);

        // value = mantissa * 2^(e - 63); the binary point sits (63 - e) bits up from the bottom.
        UInt128 sig = (UInt128)a.Mantissa << 64;
        int fraction = 63 - e + 64;
        sig = FloatRounding.ShiftRightJam(sig, Math.Max(0, fraction - 126));
        int drop = Math.Min(fraction, 126);
        var (keep, inexact, up) = FloatRounding.RoundAt(sig, drop, a.Sign, rounding);
        return (keep, inexact, up, false);
    }

    public static Float80 RoundToInteger(ref FloatContext c, Float80 a)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a) is Float80 nan)
            return nan;
        if (a.IsInfinity || a.IsZero)
            return a;
        CheckDenormal(ref c, a);
        if (UnbiasedExp(a) >= 63)
            return a;
        var (mag, inexact, up, _) = RoundToIntegerMagnitude(a, c.Rounding);
        if (inexact)
            c.Raise(FloatContext.Precision);
        c.RoundedUp = up;
        if (mag == UInt128.Zero)
            return Float80.Zero(a.Sign);
        return FromMagnitude(a.Sign, (ulong)mag);
    }

    /// <summary>An integer magnitude below 2^64 as an exact extended value.</summary>
    internal static Float80 FromMagnitude(bool sign, ulong magnitude)
    {
        if (magnitude == 0)
            return Float80.Zero(sign);
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return Float80.Make(sign, Float80.Bias + 63 - lz, magnitude << lz);
    }

    /// <summary>FSCALE: a * 2^trunc(b), rounded to 64 bits (the precision control covers only FADD, FSUB, FMUL, FDIV and FSQRT).</summary>
    public static Float80 Scale(ref FloatContext c, Float80 a, Float80 b)
    {
        c.RoundedUp = false;
        if (PropagateNaN(ref c, a, b) is Float80 nan)
            return nan;
        if (b.IsInfinity)
        {
            if ((a.IsZero && !b.Sign) || (a.IsInfinity && b.Sign))
                return Invalid(ref c);
            CheckDenormal(ref c, a);
            if (a.IsZero || a.IsInfinity)
                return a;
            return b.Sign ? Float80.Zero(a.Sign) : Float80.Infinity(a.Sign);
        }

        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero || a.IsInfinity)
            return a;

        // Beyond 2^17 every finite operand overflows or underflows, so the count saturates there.
        int n;
        if (b.IsZero || UnbiasedExp(b) < 0)
        {
            n = 0;
        }
        else if (UnbiasedExp(b) > 17)
        {
            n = 1 << 18;
        }
        else
        {
            n = (int)(b.Mantissa >> (63 - UnbiasedExp(b)));
        }

        if (b.Sign)
            n = -n;
        return FloatRounding.RoundToExtended64(ref c, a.Sign, UnbiasedExp(a) + n, (UInt128)a.Mantissa << 64);
    }
}

/// <summary>The outcome of a floating-point comparison.</summary>
public enum FloatRelation
{
    Less,
    Equal,
    Greater,
    Unordered,
}

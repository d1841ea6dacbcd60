using System.Numerics;

namespace MiniHv.Cpu.Fpu;

/// <summary>
/// A binary number Sig * 2^Exp with an arbitrarily long significand: exact for the products and sums of
/// register values, and carried to <see cref="Bits"/> significant bits (truncated) where a quotient, a
/// square root or a series is not exact. The transcendental instructions compute in it far beyond the 64
/// bits they keep, so that one final rounding gives the correctly rounded result.
/// </summary>
internal readonly struct WideBinary
{
    /// <summary>Significant bits an inexact operation keeps: 128 beyond the register's 64 leave room for a series' error.</summary>
    public const int Bits = 192;

    public readonly BigInteger Sig;
    public readonly int Exp;

    public WideBinary(BigInteger sig, int exp)
    {
        Sig = sig;
        Exp = exp;
    }

    public static WideBinary FromInt(long v) => new(v, 0);

    /// <summary>A finite register value exactly (denormals included).</summary>
    public static WideBinary FromFloat80(Float80 a)
    {
        var sig = new BigInteger(a.Mantissa);
        return new WideBinary(a.Sign ? -sig : sig, SoftFloat80.UnbiasedExp(a) - 63);
    }

    public bool IsZero => Sig.IsZero;

    public bool IsNegative => Sig.Sign < 0;

    /// <summary>The exponent just above the leading bit: |value| lies in [2^(Top-1), 2^Top).</summary>
    public int Top => Sig.IsZero ? int.MinValue / 2 : Exp + (int)BigInteger.Abs(Sig).GetBitLength();

    public WideBinary Negate() => new(-Sig, Exp);

    public WideBinary Abs() => new(BigInteger.Abs(Sig), Exp);

    /// <summary>Keep at most <see cref="Bits"/> significant bits (truncating toward zero).</summary>
    public WideBinary Trim()
    {
        var mag = BigInteger.Abs(Sig);
        int extra = (int)mag.GetBitLength() - Bits;
        if (extra <= 0)
            return this;
        mag >>= extra;
        return new WideBinary(Sig.Sign < 0 ? -mag : mag, Exp + extra);
    }

    /// <summary>The exact product.</summary>
    public static WideBinary operator *(WideBinary a, WideBinary b) => new(a.Sig * b.Sig, a.Exp + b.Exp);

    /// <summary>
    /// The exact sum, except that an addend far below the other's last kept bit only nudges it (see
    /// <see cref="Nudge"/>), so that a series' tail costs nothing however small it is.
    /// </summary>
    public static WideBinary operator +(WideBinary a, WideBinary b)
    {
        if (a.IsZero)
            return b;
        if (b.IsZero)
            return a;
        int lowest = Math.Max(a.Top, b.Top) - 2 * Bits;
        if (a.Top < lowest)
            return Nudge(b, a.Sig.Sign);
        if (b.Top < lowest)
            return Nudge(a, b.Sig.Sign);
        int e = Math.Min(a.Exp, b.Exp);
        return new WideBinary((a.Sig << (a.Exp - e)) + (b.Sig << (b.Exp - e)), e);
    }

    public static WideBinary operator -(WideBinary a, WideBinary b) => a + b.Negate();

    // a plus a positive or negative amount far below its last bit: two more bits and one unit of the lower,
    // so that the final rounding still sees on which side of a the sum lies.
    private static WideBinary Nudge(WideBinary a, int direction)
    {
        int shift = Math.Max(2, Bits + 2 - (int)BigInteger.Abs(a.Sig).GetBitLength());
        return new WideBinary((a.Sig << shift) + direction, a.Exp - shift);
    }

    /// <summary>The exact sum, however far apart the addends are.</summary>
    public static WideBinary ExactSum(WideBinary a, WideBinary b)
    {
        int e = Math.Min(a.Exp, b.Exp);
        return new WideBinary((a.Sig << (a.Exp - e)) + (b.Sig << (b.Exp - e)), e);
    }

    /// <summary>The quotient to <see cref="Bits"/> significant bits.</summary>
    public static WideBinary operator /(WideBinary a, WideBinary b)
    {
        if (a.IsZero)
            return a;
        int shift = Bits + 2 + (int)BigInteger.Abs(b.Sig).GetBitLength() - (int)BigInteger.Abs(a.Sig).GetBitLength();
        var q = shift >= 0 ? (a.Sig << shift) / b.Sig : (a.Sig >> -shift) / b.Sig;
        return new WideBinary(q, a.Exp - shift - b.Exp).Trim();
    }

    /// <summary>The square root of a positive value to <see cref="Bits"/> significant bits.</summary>
    public WideBinary Sqrt()
    {
        // Scale the significand to about 2 * Bits bits with an even exponent, then take the integer root.
        int shift = 2 * Bits + 4 - (int)Sig.GetBitLength();
        if (((Exp - shift) & 1) != 0)
            shift++;
        var n = shift >= 0 ? Sig << shift : Sig >> -shift;
        return new WideBinary(IntegerSqrt(n), (Exp - shift) / 2);
    }

    private static BigInteger IntegerSqrt(BigInteger n)
    {
        // Newton's iteration from above: x' = (x + n / x) / 2 decreases until it reaches floor(sqrt(n)).
        var x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            var next = (x + n / x) >> 1;
            if (next >= x)
                return x;
            x = next;
        }
    }

    /// <summary>
    /// Round to an extended register result. An inexact value (one computed by a series) has a sticky bit
    /// set below everything it holds, so it never looks exact and never sits on a rounding tie.
    /// </summary>
    public Float80 Round(ref FloatContext c, bool inexact)
    {
        var mag = BigInteger.Abs(Sig);
        int len = (int)mag.GetBitLength();
        int exp = Exp + len - 1;
        UInt128 sig;
        if (len > 127)
        {
            var dropped = mag & ((BigInteger.One << (len - 127)) - 1);
            sig = (UInt128)(mag >> (len - 127)) << 1;
            if (!dropped.IsZero)
                sig |= 1;
        }
        else
        {
            sig = (UInt128)mag << (128 - len);
        }

        if (inexact)
            sig |= 1;
        return FloatRounding.RoundToExtended64(ref c, Sig.Sign < 0, exp, sig);
    }
}

namespace MiniHv.Cpu.Fpu;

/// <remarks>
/// F2XM1, FYL2X, FYL2XP1 and FPATAN: the exact function value computed far beyond 64 bits
/// (<see cref="WideMath"/>) and rounded once by the rounding control to all 64 bits (the precision control
/// does not apply to them, as the SDM says and QEMU 7.2 does), which is what QEMU 7.2's
/// extra-precision floatx80 code aims at. Special operands follow QEMU 7.2, as measured by running the
/// instructions there: an F2XM1 operand beyond ±1 (infinities included), an FYL2XP1 operand outside the
/// SDM's range and a negative FYL2X operand are invalid (a real x87 leaves those undefined or computes a
/// value), and the products with zero and infinity follow IEEE 754 (0 * inf is invalid, a finite nonzero
/// * log 0 divides by zero).
/// </remarks>
public static partial class SoftFloat80
{
    /// <summary>F2XM1: 2^a - 1.</summary>
    public static Float80 TwoToXMinus1(ref FloatContext c, Float80 a)
    {
        if (PropagateNaN(ref c, a) is Float80 nan)
            return nan;
        if (a.IsZero)
            return a;
        CheckDenormal(ref c, a);
        bool one = a.Exp == Float80.Bias && a.Mantissa == Float80.IntegerBit;
        if (one)
            return a.Sign ? Float80.Make(true, Float80.Bias - 1, Float80.IntegerBit) : Float80.One;
        if (a.IsInfinity || UnbiasedExp(a) >= 0)
            return Invalid(ref c);
        return WideMath.Exp2Minus1(WideBinary.FromFloat80(a)).Round(ref c, true);
    }

    /// <summary>FYL2X: b * log2(a) (a is ST(0), b is ST(1)).</summary>
    public static Float80 YLog2X(ref FloatContext c, Float80 a, Float80 b)
    {
        if (TranscendentalNaN(ref c, a, b) is Float80 nan)
            return nan;
        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.Sign && !a.IsZero)
            return Invalid(ref c);
        if (a.IsZero)
            return LogOfZeroTimes(ref c, b);
        if (a.IsInfinity)
            return InfinityTimes(ref c, false, b);
        bool one = a.Exp == Float80.Bias && a.Mantissa == Float80.IntegerBit;
        return YLog2(ref c, WideBinary.FromFloat80(a), one, b, true);
    }

    /// <summary>FYL2XP1: b * log2(a + 1).</summary>
    public static Float80 YLog2XPlus1(ref FloatContext c, Float80 a, Float80 b)
    {
        if (TranscendentalNaN(ref c, a, b) is Float80 nan)
            return nan;
        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        if (a.IsZero)
            return b.IsInfinity ? Invalid(ref c) : Float80.Zero(a.Sign != b.Sign);

        // QEMU 7.2 takes only the range the SDM gives, 1 + a within [sqrt(1/2), sqrt(2)], and calls anything
        // beyond it invalid (a real x87 computes a value there).
        if (a.IsInfinity)
            return Invalid(ref c);
        var v = WideBinary.ExactSum(WideBinary.FromFloat80(a), WideBinary.FromInt(1));
        var square = v * v;
        if (v.IsNegative || !WideBinary.ExactSum(square, WideBinary.FromInt(-2)).IsNegative
            || WideBinary.ExactSum(square * WideBinary.FromInt(2), WideBinary.FromInt(-1)).IsNegative)
            return Invalid(ref c);
        return YLog2(ref c, v, false, b, false);
    }

    /// <summary>FPATAN: the angle of the point (a, b), atan(b / a) in the quadrant of their signs (a is ST(0), b is ST(1)).</summary>
    public static Float80 ArcTangent(ref FloatContext c, Float80 a, Float80 b)
    {
        if (TranscendentalNaN(ref c, a, b) is Float80 nan)
            return nan;
        CheckDenormal(ref c, a);
        CheckDenormal(ref c, b);
        bool left = a.Sign;
        WideBinary angle;
        if (b.IsZero)
        {
            if (!left)
                return b;
            angle = WideMath.Pi;
        }
        else if (b.IsInfinity)
        {
            // pi/2, or pi/4 and 3pi/4 against infinite a.
            angle = WideMath.Pi * new WideBinary(a.IsInfinity ? (left ? 3 : 1) : 1, a.IsInfinity ? -2 : -1);
        }
        else if (a.IsZero)
        {
            angle = WideMath.Pi * new WideBinary(1, -1);
        }
        else if (a.IsInfinity)
        {
            if (!left)
                return Float80.Zero(b.Sign);
            angle = WideMath.Pi;
        }
        else
        {
            var x = WideBinary.FromFloat80(a).Abs();
            var y = WideBinary.FromFloat80(b).Abs();
            var halfPi = WideMath.Pi * new WideBinary(1, -1);
            var difference = WideBinary.ExactSum(y, x.Negate());
            if (difference.IsNegative || difference.IsZero)
            {
                var t = WideMath.Atan(y / x);
                angle = left ? WideMath.Pi - t : t;
            }
            else
            {
                var t = WideMath.Atan(x / y);
                angle = left ? halfPi + t : halfPi - t;
            }
        }

        return (b.Sign ? angle.Negate() : angle).Round(ref c, true);
    }

    // NaN and unsupported operands as QEMU 7.2 handles them here (measured): an SNaN wins, ST(0)'s before
    // ST(1)'s, and raises IE; then an unsupported encoding gives the indefinite; then a QNaN, ST(0)'s first.
    // The SDM's rule (table 4-7: the QNaN, or the larger significand) is not what QEMU does for these four.
    private static Float80? TranscendentalNaN(ref FloatContext c, Float80 a, Float80 b)
    {
        if (a.IsSignalingNaN || b.IsSignalingNaN)
        {
            c.Raise(FloatContext.Invalid);
            return (a.IsSignalingNaN ? a : b).Quieted();
        }

        if (a.IsUnsupported || b.IsUnsupported)
            return Invalid(ref c);
        if (a.IsNaN || b.IsNaN)
            return a.IsNaN ? a : b;
        return null;
    }

    // b * log2(0) = b * -inf: invalid for a zero b, a zero divide for a finite b.
    private static Float80 LogOfZeroTimes(ref FloatContext c, Float80 b)
    {
        if (b.IsZero)
            return Invalid(ref c);
        if (!b.IsInfinity)
            c.Raise(FloatContext.ZeroDivide);
        return Float80.Infinity(!b.Sign);
    }

    // An infinite logarithm (of sign logNegative) times b.
    private static Float80 InfinityTimes(ref FloatContext c, bool logNegative, Float80 b)
        => b.IsZero ? Invalid(ref c) : Float80.Infinity(logNegative != b.Sign);

    // b * log2(v) for a finite positive v (exactly one when isOne); the logarithm is exact only for powers of two.
    // With qemuDenormalQuirk (FYL2X), a denormal b whose leading bit is bit 62 (from 2^-16384 up to the
    // smallest normal) counts twice when the logarithm is not exact: QEMU 7.2 does so (measured), and
    // MiniHv gives QEMU's results for the transcendental instructions.
    private static Float80 YLog2(ref FloatContext c, WideBinary v, bool isOne, Float80 b, bool qemuDenormalQuirk)
    {
        var sig = v.Sig;
        bool negativeLog = v.Top <= 0 && !isOne;
        if (isOne)
            return b.IsInfinity ? Invalid(ref c) : Float80.Zero(b.Sign);
        if (b.IsInfinity)
            return Float80.Infinity(negativeLog != b.Sign);
        if (b.IsZero)
            return Float80.Zero(negativeLog != b.Sign);
        if (sig.IsPowerOfTwo)
        {
            int log = v.Exp + (int)sig.GetBitLength() - 1;
            return (WideBinary.FromFloat80(b) * WideBinary.FromInt(log)).Round(ref c, false);
        }

        if (qemuDenormalQuirk && b.IsDenormal && (b.Mantissa >> 62) == 1)
            b = Float80.Make(b.Sign, 1, b.Mantissa << 1);
        return (WideBinary.FromFloat80(b) * WideMath.Log2(v)).Round(ref c, true);
    }
}

using MiniHv.Cpu.Fpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The software floatx80 against facts a user can check: with the precision control at 53 bits it must
/// give exactly the IEEE double results .NET computes (directed roundings checked through the exact
/// error of a fused multiply-add), and the 64-bit precision, special values and flags as the SDM says.
/// </summary>
public class FpuSoftFloatTests
{
    private const int Nearest = 0, Down = 1, Up = 2, Chop = 3;

    private static FloatContext Ctx(int rounding = Nearest, int bits = 53) => new(rounding, bits, 0x3F);

    private static Float80 X(double d)
    {
        var c = Ctx();
        return Float80Conversions.FromDouble(ref c, BitConverter.DoubleToUInt64Bits(d));
    }

    private static double D(Float80 f)
    {
        var c = Ctx();
        return BitConverter.UInt64BitsToDouble(Float80Conversions.ToDouble(ref c, f));
    }

    private static IEnumerable<(double A, double B)> RandomPairs(int seed, int count)
    {
        var rng = new Random(seed);
        for (int k = 0; k < count; k++)
        {
            double a = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60));
            double b = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60));
            yield return (a, b);
        }
    }

    [Test]
    public void AtDoublePrecision_AddSubMulDivSqrt_MatchIeeeDoubleExactly()
    {
        foreach (var (a, b) in RandomPairs(1, 20000))
        {
            var c = Ctx();
            Assert.That(D(SoftFloat80.Add(ref c, X(a), X(b))), Is.EqualTo(a + b), $"{a:R} + {b:R}");
            Assert.That(D(SoftFloat80.Sub(ref c, X(a), X(b))), Is.EqualTo(a - b), $"{a:R} - {b:R}");
            Assert.That(D(SoftFloat80.Mul(ref c, X(a), X(b))), Is.EqualTo(a * b), $"{a:R} * {b:R}");
            Assert.That(D(SoftFloat80.Div(ref c, X(a), X(b))), Is.EqualTo(a / b), $"{a:R} / {b:R}");
            Assert.That(D(SoftFloat80.Sqrt(ref c, X(Math.Abs(a)))), Is.EqualTo(Math.Sqrt(Math.Abs(a))), $"sqrt {a:R}");
        }
    }

    [Test]
    public void DirectedRounding_OfProducts_FollowsTheSignOfTheExactError()
    {
        foreach (var (a, b) in RandomPairs(2, 20000))
        {
            double p = a * b;
            double err = Math.FusedMultiplyAdd(a, b, -p);
            double down = err < 0 ? Math.BitDecrement(p) : p;
            double up = err > 0 ? Math.BitIncrement(p) : p;
            double chop = p > 0 ? down : up;
            foreach (var (mode, want) in new[] { (Down, down), (Up, up), (Chop, chop) })
            {
                var c = Ctx(mode);
                var r = SoftFloat80.Mul(ref c, X(a), X(b));
                Assert.That(D(r), Is.EqualTo(want), $"{a:R} * {b:R} rounding {mode}");
                Assert.That((c.Flags & FloatContext.Precision) != 0, Is.EqualTo(err != 0), "PE when inexact");
            }
        }
    }

    [Test]
    public void ExtendedPrecision_KeepsBitsADoubleLoses()
    {
        // 1 + 2^-60 is exact in 64 bits and rounds to 1 in 53.
        var tiny = Float80.Make(false, Float80.Bias - 60, Float80.IntegerBit);
        var c64 = Ctx(Nearest, 64);
        var r = SoftFloat80.Add(ref c64, Float80.One, tiny);
        Assert.That(r.Mantissa, Is.EqualTo(Float80.IntegerBit | 8));
        Assert.That(c64.Flags & FloatContext.Precision, Is.Zero);
        var c53 = Ctx(Nearest, 53);
        Assert.That(SoftFloat80.Add(ref c53, Float80.One, tiny), Is.EqualTo(Float80.One));
        Assert.That(c53.Flags & FloatContext.Precision, Is.Not.Zero);
    }

    [Test]
    public void SingleAndDoubleConversions_RoundTripAndRoundToNearestEven()
    {
        foreach (var (a, _) in RandomPairs(3, 5000))
        {
            Assert.That(D(X(a)), Is.EqualTo(a));
            var c = Ctx();
            float f = BitConverter.UInt32BitsToSingle(Float80Conversions.ToSingle(ref c, X(a)));
            Assert.That(f, Is.EqualTo((float)a), $"{a:R} to single");
        }
    }

    [Test]
    public void InvalidOperations_GiveTheIndefinite_AndRaiseIe()
    {
        var c = Ctx();
        Assert.That(SoftFloat80.Sub(ref c, Float80.Infinity(false), Float80.Infinity(false)), Is.EqualTo(Float80.Indefinite));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Invalid));
        c = Ctx();
        Assert.That(SoftFloat80.Mul(ref c, Float80.Zero(false), Float80.Infinity(true)), Is.EqualTo(Float80.Indefinite));
        c = Ctx();
        Assert.That(SoftFloat80.Sqrt(ref c, X(-1)), Is.EqualTo(Float80.Indefinite));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Invalid));
        c = Ctx();
        Assert.That(SoftFloat80.Sqrt(ref c, X(-0.0)), Is.EqualTo(Float80.Zero(true)), "sqrt(-0) = -0");
    }

    [Test]
    public void DivideByZero_GivesSignedInfinity_AndRaisesZe()
    {
        var c = Ctx();
        Assert.That(SoftFloat80.Div(ref c, X(-3), Float80.Zero(false)), Is.EqualTo(Float80.Infinity(true)));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.ZeroDivide));
    }

    [Test]
    public void NaNs_PropagateQuieted_SignalingOnesRaiseIe_AndTheLargerSignificandWins()
    {
        var snan = Float80.Make(false, 0x7FFF, Float80.IntegerBit | 5);
        var qnan = Float80.Make(true, 0x7FFF, Float80.IntegerBit | Float80.QuietBit | 3);
        var c = Ctx();
        Assert.That(SoftFloat80.Add(ref c, snan, X(1)), Is.EqualTo(snan.Quieted()));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Invalid));
        c = Ctx();
        Assert.That(SoftFloat80.Add(ref c, qnan, snan), Is.EqualTo(qnan), "the QNaN wins over an SNaN");
        c = Ctx();
        var big = Float80.Make(false, 0x7FFF, Float80.IntegerBit | Float80.QuietBit | 9);
        Assert.That(SoftFloat80.Mul(ref c, qnan, big), Is.EqualTo(big));
        Assert.That(c.Flags, Is.Zero, "quiet NaNs raise nothing");
    }

    [Test]
    public void MaskedOverflow_RoundsToInfinityOrTheLargestFinite_ByDirection()
    {
        var max = Float80.Make(false, 0x7FFE, ulong.MaxValue);
        var c = Ctx(Nearest, 64);
        Assert.That(SoftFloat80.Mul(ref c, max, X(2)), Is.EqualTo(Float80.Infinity(false)));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Overflow | FloatContext.Precision));
        c = Ctx(Chop, 64);
        Assert.That(SoftFloat80.Mul(ref c, max, X(2)), Is.EqualTo(max));
        c = Ctx(Down, 64);
        Assert.That(SoftFloat80.Mul(ref c, max.Negate(), X(2)), Is.EqualTo(Float80.Infinity(true)));
    }

    [Test]
    public void UnmaskedOverflow_ToARegister_WrapsTheExponentBy24576()
    {
        var max = Float80.Make(false, 0x7FFE, Float80.IntegerBit);
        var c = new FloatContext(Nearest, 64, 0x3F & ~FloatContext.Overflow);
        var r = SoftFloat80.Mul(ref c, max, X(4));
        Assert.That(r.Exp, Is.EqualTo(0x7FFE + 2 - 24576));
        Assert.That(c.Flags & FloatContext.Overflow, Is.Not.Zero);
    }

    [Test]
    public void Underflow_GivesADenormal_AndIsFlaggedOnlyWhenInexact_WhileMasked()
    {
        var min = Float80.Make(false, 1, Float80.IntegerBit);
        var c = Ctx(Nearest, 64);
        var half = SoftFloat80.Div(ref c, min, X(2));
        Assert.That(half, Is.EqualTo(Float80.Make(false, 0, Float80.IntegerBit >> 1)), "exact denormal");
        Assert.That(c.Flags & FloatContext.Underflow, Is.Zero, "exact: no UE while masked");
        c = Ctx(Nearest, 64);
        SoftFloat80.Div(ref c, min, X(3));
        Assert.That(c.Flags & (FloatContext.Underflow | FloatContext.Precision), Is.EqualTo(FloatContext.Underflow | FloatContext.Precision));
        Assert.That(D(X(double.Epsilon)), Is.EqualTo(double.Epsilon), "a double denormal loads and stores exactly");
    }

    [TestCase(7.5, 2.0, false, 1.5, 3)]
    [TestCase(7.5, 2.0, true, -0.5, 4)]
    [TestCase(-7.0, 3.0, false, -1.0, 2)]
    [TestCase(5.0, 2.0, true, 1.0, 2)]
    public void Remainder_TruncatesForFprem_RoundsToEvenForFprem1(double a, double b, bool nearest, double rest, int quotient)
    {
        var c = Ctx(Nearest, 64);
        var r = SoftFloat80.Remainder(ref c, X(a), X(b), nearest);
        Assert.That(D(r.Value), Is.EqualTo(rest));
        Assert.That(r.QuotientLow, Is.EqualTo(quotient & 7));
        Assert.That(r.Complete, Is.True);
    }

    [Test]
    public void Remainder_OfAHugeRatio_IsPartial_AndReachesTheTrueRemainderWhenRepeated()
    {
        var c = Ctx(Nearest, 64);
        var a = X(Math.Pow(2, 100) + Math.Pow(2, 60));
        var b = X(3);
        var r = SoftFloat80.Remainder(ref c, a, b, false);
        Assert.That(r.Complete, Is.False);
        while (!r.Complete)
            r = SoftFloat80.Remainder(ref c, r.Value, b, false);
        var expected = (System.Numerics.BigInteger.Pow(2, 100) + System.Numerics.BigInteger.Pow(2, 60)) % 3;
        Assert.That(D(r.Value), Is.EqualTo((double)expected));
    }

    [TestCase(2.5, Nearest, 2L)]
    [TestCase(3.5, Nearest, 4L)]
    [TestCase(-2.5, Down, -3L)]
    [TestCase(-2.5, Up, -2L)]
    [TestCase(2.7, Chop, 2L)]
    public void ToInteger_RoundsByTheRoundingControl(double v, int mode, long want)
    {
        var c = Ctx(mode);
        Assert.That(Float80Conversions.ToInteger(ref c, X(v), 32), Is.EqualTo(want));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Precision));
    }

    [Test]
    public void ToInteger_OutOfRange_GivesTheIntegerIndefinite_AndIe()
    {
        var c = Ctx();
        Assert.That(Float80Conversions.ToInteger(ref c, X(32768), 16), Is.EqualTo(-32768));
        Assert.That(c.Flags, Is.EqualTo(FloatContext.Invalid));
        c = Ctx();
        Assert.That(Float80Conversions.ToInteger(ref c, X(-32768), 16), Is.EqualTo(-32768));
        Assert.That(c.Flags, Is.Zero, "-2^15 fits");
    }

    [Test]
    public void PackedBcd_RoundTripsEighteenDigits()
    {
        byte[] bcd = [0x89, 0x67, 0x45, 0x23, 0x01, 0x89, 0x67, 0x45, 0x23, 0x80];
        var v = Float80Conversions.FromPackedBcd(bcd);
        var c = Ctx(Nearest, 64);
        Assert.That(Float80Conversions.ToInteger(ref c, v, 64), Is.EqualTo(-234567890123456789L));
        var back = new byte[10];
        Float80Conversions.ToPackedBcd(ref c, v, back);
        Assert.That(back, Is.EqualTo(bcd));
    }
}

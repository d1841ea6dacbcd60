using System.Numerics;

namespace MiniHv.Cpu.Fpu;

/// <summary>
/// The functions behind FPATAN, F2XM1, FYL2X and FYL2XP1, computed in <see cref="WideBinary"/> by
/// series whose terms are summed until they fall below the last kept bit: the base-2 logarithm, 2^x - 1
/// and the arctangent, with ln 2 and pi computed once the same way. Arguments are reduced so that every
/// series converges by at least five bits a term, and no step subtracts nearly equal values, so each
/// result keeps well over 150 correct bits relative to its own size, however small it is.
/// </summary>
internal static class WideMath
{
    // Terms are summed until they are this many bits below the sum's leading bit.
    private const int Stop = WideBinary.Bits + 4;

    // Reduced arguments converge by five bits or more a term, so about 40 terms do; a series still going after
    // this many was given an argument outside its range (a defect of ours), and stopping the guest with that
    // error beats spinning its host thread forever.
    private const int MaxTerms = 1_000;

    /// <summary>ln 2 = 2 atanh(1/3).</summary>
    public static readonly WideBinary Ln2 = Atanh(WideBinary.FromInt(1) / WideBinary.FromInt(3)) * WideBinary.FromInt(2);

    /// <summary>pi = 16 atan(1/5) - 4 atan(1/239) (Machin's formula).</summary>
    public static readonly WideBinary Pi =
        (AtanSeries(WideBinary.FromInt(1) / WideBinary.FromInt(5)) * WideBinary.FromInt(16)
         - AtanSeries(WideBinary.FromInt(1) / WideBinary.FromInt(239)) * WideBinary.FromInt(4)).Trim();

    /// <summary>log2(v) of an exact positive value (whose significand may be far longer than <see cref="WideBinary.Bits"/>).</summary>
    public static WideBinary Log2(WideBinary v)
    {
        // v = m * 2^e with m in [sqrt(1/2), sqrt(2)]; ln m = 2 atanh((m - 1) / (m + 1)) with |t| <= 0.172,
        // and t is formed exactly from the integer significand, so m close to 1 loses nothing.
        var sig = v.Sig;
        int len = (int)sig.GetBitLength();
        int e = v.Exp + len - 1;
        var one = BigInteger.One << (len - 1);
        if (sig * sig > one * one * 2)
        {
            one <<= 1;
            e++;
        }

        var t = new WideBinary(sig - one, 0) / new WideBinary(sig + one, 0);
        var lnM = Atanh(t) * WideBinary.FromInt(2);
        return (WideBinary.FromInt(e) + lnM / Ln2).Trim();
    }

    /// <summary>2^x - 1 for |x| &lt;= 1, as the series of e^z - 1 with z = x ln 2.</summary>
    public static WideBinary Exp2Minus1(WideBinary x)
    {
        var z = (x * Ln2).Trim();
        var term = z;
        var sum = z;
        for (int k = 2; term.Top > sum.Top - Stop; k++)
        {
            CheckConverging(k);
            term = (term * z).Trim() / WideBinary.FromInt(k);
            sum = (sum + term).Trim();
        }

        return sum;
    }

    /// <summary>atan(r) for 0 &lt;= r &lt;= 1: three halvings of the angle, atan r = 2 atan(r / (1 + sqrt(1 + r^2))), bring r below 0.1.</summary>
    public static WideBinary Atan(WideBinary r)
    {
        var one = WideBinary.FromInt(1);
        int halvings = 0;
        while (halvings < 3 && r.Top > -3)
        {
            var root = ((r * r).Trim() + one).Sqrt();
            r = r / (one + root);
            halvings++;
        }

        return AtanSeries(r) * WideBinary.FromInt(1 << halvings);
    }

    // atan r = r - r^3/3 + r^5/5 - ...
    private static WideBinary AtanSeries(WideBinary r) => OddSeries(r, alternating: true);

    // atanh t = t + t^3/3 + t^5/5 + ...
    private static WideBinary Atanh(WideBinary t) => OddSeries(t, alternating: false);

    private static WideBinary OddSeries(WideBinary x, bool alternating)
    {
        if (x.IsZero)
            return x;
        var x2 = (x * x).Trim();
        if (alternating)
            x2 = x2.Negate();
        var power = x;
        var sum = x;
        for (int k = 3; ; k += 2)
        {
            CheckConverging(k / 2);
            power = (power * x2).Trim();
            var term = power / WideBinary.FromInt(k);
            sum = (sum + term).Trim();
            if (term.IsZero || term.Top < sum.Top - Stop)
                return sum;
        }
    }

    private static void CheckConverging(int terms)
    {
        if (terms > MaxTerms)
            throw new InvalidOperationException($"an x87 series did not converge in {MaxTerms} terms: its argument was outside the range it was reduced to");
    }
}

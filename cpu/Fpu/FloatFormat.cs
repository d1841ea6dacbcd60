namespace MiniHv.Cpu.Fpu;

/// <summary>A binary floating-point format as rounding sees it: significand bits and the normal exponent range (unbiased).</summary>
public readonly record struct FloatFormat(int Precision, int MinExp, int MaxExp)
{
    public static readonly FloatFormat Single = new(24, -126, 127);
    public static readonly FloatFormat Double = new(53, -1022, 1023);

    /// <summary>The register format with the precision control's significand width and the full 15-bit exponent range.</summary>
    public static FloatFormat Extended(int precisionBits) => new(precisionBits, 1 - Float80.Bias, Float80.Bias);
}

/// <summary>A rounded value: sign, unbiased exponent and a significand of Precision bits (below 2^(P-1) only for denormals and zero).</summary>
public readonly record struct Rounded(bool Sign, int Exp, ulong Significand, bool Infinite);

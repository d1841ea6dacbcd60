namespace MiniHv.Cpu.Fpu;

/// <summary>
/// One x87 double extended-precision value as the register file and memory hold it: a sign, a 15-bit
/// biased exponent and a 64-bit significand whose top bit is the explicit integer bit.
/// </summary>
public readonly record struct Float80(ushort SignExp, ulong Mantissa)
{
    public const int Bias = 16383;
    public const int MaxExp = 0x7FFF;
    public const ulong IntegerBit = 1ul << 63;
    public const ulong QuietBit = 1ul << 62;

    public bool Sign => (SignExp & 0x8000) != 0;

    public int Exp => SignExp & 0x7FFF;

    public static Float80 Make(bool sign, int exp, ulong mantissa) => new((ushort)((sign ? 0x8000 : 0) | (exp & 0x7FFF)), mantissa);

    public static readonly Float80 PositiveZero = new(0, 0);
    public static readonly Float80 One = new(Bias, IntegerBit);

    /// <summary>The default NaN the x87 produces for an invalid operation with IM masked.</summary>
    public static readonly Float80 Indefinite = new(0xFFFF, 0xC000_0000_0000_0000);

    public static Float80 Infinity(bool sign) => Make(sign, MaxExp, IntegerBit);

    public static Float80 Zero(bool sign) => Make(sign, 0, 0);

    public bool IsZero => Exp == 0 && Mantissa == 0;

    /// <summary>Exponent 0 and a non-zero significand: denormals and pseudo-denormals (integer bit set).</summary>
    public bool IsDenormal => Exp == 0 && Mantissa != 0;

    public bool IsInfinity => Exp == MaxExp && Mantissa == IntegerBit;

    public bool IsNaN => Exp == MaxExp && (Mantissa & IntegerBit) != 0 && (Mantissa << 1) != 0;

    public bool IsSignalingNaN => IsNaN && (Mantissa & QuietBit) == 0;

    /// <summary>
    /// Encodings the 387 and later reject as operands: unnormals, pseudo-NaNs and pseudo-infinities (a
    /// non-zero exponent with the integer bit clear). Using one is an invalid operation.
    /// </summary>
    public bool IsUnsupported => Exp != 0 && (Mantissa & IntegerBit) == 0;

    public Float80 Negate() => new((ushort)(SignExp ^ 0x8000), Mantissa);

    public Float80 Abs() => new((ushort)(SignExp & 0x7FFF), Mantissa);

    public Float80 WithSign(bool sign) => Make(sign, Exp, Mantissa);

    public Float80 Quieted() => new(SignExp, Mantissa | QuietBit);

    public override string ToString() => $"{SignExp:x4}:{Mantissa:x16}";
}

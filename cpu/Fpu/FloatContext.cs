namespace MiniHv.Cpu.Fpu;

/// <summary>
/// The environment one floating-point operation runs in and what it reports back: the rounding and
/// precision controls and the exception masks come from the control word; the raised exceptions and
/// the "rounded up" indication (the status word's C1) accumulate here.
/// </summary>
public struct FloatContext
{
    // Exception bits, in the positions the x87 status and control words use.
    public const int Invalid = 0x01, DenormalOperand = 0x02, ZeroDivide = 0x04, Overflow = 0x08, Underflow = 0x10,
        Precision = 0x20;

    /// <summary>Rounding control: 0 nearest (even), 1 down, 2 up, 3 toward zero.</summary>
    public int Rounding;

    /// <summary>Significand bits results are rounded to: 24, 53 or 64 (the precision control).</summary>
    public int PrecisionBits;

    /// <summary>Exception mask bits of the control word (1 = masked).</summary>
    public int Masks;

    /// <summary>Exceptions raised so far.</summary>
    public int Flags;

    /// <summary>The last rounding increased the magnitude of the result (reported in C1).</summary>
    public bool RoundedUp;

    public FloatContext(int rounding, int precisionBits, int masks)
    {
        Rounding = rounding;
        PrecisionBits = precisionBits;
        Masks = masks;
        Flags = 0;
        RoundedUp = false;
    }

    /// <summary>
    /// From an x87 control word: RC in bits 10-11, PC in bits 8-9. PC 1 is reserved; like QEMU 7.2 we round
    /// to the full 64 bits there.
    /// </summary>
    public static FloatContext FromControlWord(ushort cw)
    {
        int pc = (cw >> 8) & 3;
        int bits = pc switch { 0 => 24, 2 => 53, _ => 64 };
        return new FloatContext((cw >> 10) & 3, bits, cw & 0x3F);
    }

    public readonly bool IsMasked(int exception) => (Masks & exception) != 0;

    public void Raise(int exception) => Flags |= exception;
}

namespace MiniHv.Cpu.Fpu;

/// <summary>
/// The x87 unit's architectural state: eight 80-bit physical registers addressed as a stack through TOP,
/// the tag word (2 bits per physical register), the control and status words, and the last instruction
/// and data pointers with the last opcode, as FSTENV and FSAVE store them.
/// </summary>
public sealed class FpuState
{
    public const int TagValid = 0, TagZero = 1, TagSpecial = 2, TagEmpty = 3;

    // Status word bits.
    public const ushort SwStackFault = 0x40, SwErrorSummary = 0x80, SwC0 = 0x100, SwC1 = 0x200, SwC2 = 0x400,
        SwC3 = 0x4000, SwBusy = 0x8000, SwConditionCodes = SwC0 | SwC1 | SwC2 | SwC3;

    /// <summary>Physical registers R0-R7.</summary>
    public readonly Float80[] Registers = new Float80[8];

    /// <summary>Top-of-stack pointer: ST(i) is physical register (Top + i) mod 8.</summary>
    public int Top;

    public ushort TagWord = 0xFFFF;

    public ushort ControlWord = 0x037F;

    /// <summary>Status word bits other than TOP (bits 11-13 are kept in <see cref="Top"/>).</summary>
    public ushort StatusFlags;

    public uint LastInstructionOffset;
    public ushort LastInstructionSelector;

    /// <summary>The last non-control instruction's opcode: the low 3 bits of its first byte and its ModR/M byte.</summary>
    public ushort LastOpcode;

    public uint LastDataOffset;
    public ushort LastDataSelector;

    public ushort StatusWord
    {
        get => (ushort)((StatusFlags & ~0x3800) | (Top << 11));
        set
        {
            StatusFlags = (ushort)(value & ~0x3800);
            Top = (value >> 11) & 7;
        }
    }

    public int PhysicalIndex(int st) => (Top + st) & 7;

    public int Tag(int physical) => (TagWord >> (physical * 2)) & 3;

    public void SetTag(int physical, int tag) => TagWord = (ushort)((TagWord & ~(3 << (physical * 2))) | (tag << (physical * 2)));

    public bool IsEmpty(int st) => Tag(PhysicalIndex(st)) == TagEmpty;

    public Float80 St(int st) => Registers[PhysicalIndex(st)];

    /// <summary>Write ST(i) and tag it by its contents.</summary>
    public void SetSt(int st, Float80 value)
    {
        int p = PhysicalIndex(st);
        Registers[p] = value;
        SetTag(p, TagOf(value));
    }

    public static int TagOf(Float80 v)
    {
        if (v.IsZero)
            return TagZero;
        if (v.Exp == Float80.MaxExp || v.Exp == 0 || (v.Mantissa & Float80.IntegerBit) == 0)
            return TagSpecial;
        return TagValid;
    }

    /// <summary>FNINIT: control word 037Fh, status and pointers cleared, every register empty.</summary>
    public void Initialize()
    {
        ControlWord = 0x037F;
        StatusFlags = 0;
        Top = 0;
        TagWord = 0xFFFF;
        LastInstructionOffset = 0;
        LastInstructionSelector = 0;
        LastOpcode = 0;
        LastDataOffset = 0;
        LastDataSelector = 0;
    }

    /// <summary>The tag word as FSTENV reports it: every non-empty register re-tagged from its contents.</summary>
    public ushort ComputedTagWord()
    {
        ushort tw = 0;
        for (int p = 0; p < 8; p++)
            tw |= (ushort)((Tag(p) == TagEmpty ? TagEmpty : TagOf(Registers[p])) << (p * 2));
        return tw;
    }

    /// <summary>FLDENV's tag word: only "empty" is taken from memory, the other tags follow the contents.</summary>
    public void LoadTagWord(ushort tw)
    {
        for (int p = 0; p < 8; p++)
            SetTag(p, ((tw >> (p * 2)) & 3) == TagEmpty ? TagEmpty : TagOf(Registers[p]));
    }
}

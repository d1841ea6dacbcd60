using System.Numerics;
using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>
/// EFLAGS, with the six arithmetic flags computed lazily: an ALU instruction records its kind,
/// operands and result, and a flag is derived only when something reads it. Instructions whose
/// flag rules are irregular (shifts, multiplies, bit scans) set the flags eagerly instead.
/// </summary>
public sealed unsafe partial class Cpu
{
    public const uint CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400,
        OF = 0x800, IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000, ID = 0x200000;

    internal const uint ArithFlags = CF | PF | AF | ZF | SF | OF;

    internal enum FlagOp : byte
    {
        None,
        Add,
        Adc,
        Sub,
        Sbb,
        Logic,
        Inc,
        Dec,
    }

    // EFLAGS; the arithmetic bits are valid only while LazyOp is None.
    internal uint FlagsRest = 0x2;
    internal FlagOp LazyOp;
    internal uint LazyRes, LazyA, LazyB;
    internal uint LazyCarryIn;
    internal uint LazySign = 0x80000000;

    /// <summary>The full EFLAGS value as PUSHF would store it.</summary>
    public uint Eflags
    {
        get => GetEflags();
        set => SetEflags(value);
    }

    internal uint GetEflags() => (FlagsRest & ~ArithFlags) | ArithmeticFlags() | 0x2;

    internal void SetEflags(uint value)
    {
        FlagsRest = (value & 0x003F7FD5) | 0x2;
        LazyOp = FlagOp.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLazy(FlagOp op, uint sign, uint a, uint b, uint res)
    {
        LazyOp = op;
        LazySign = sign;
        LazyA = a;
        LazyB = b;
        LazyRes = res;
    }

    /// <summary>Set the arithmetic flags eagerly: <paramref name="flags"/> holds the new values of the bits in <paramref name="mask"/>.</summary>
    internal void SetArith(uint flags, uint mask)
    {
        // Every arithmetic flag replaced (SHL, SHR, SAR...): the old ones need not be worked out.
        uint current = LazyOp == FlagOp.None || mask == ArithFlags ? FlagsRest : (FlagsRest & ~ArithFlags) | ArithmeticFlags();
        FlagsRest = (current & ~mask) | (flags & mask);
        LazyOp = FlagOp.None;
    }

    internal static uint Parity(uint value) => (BitOperations.PopCount(value & 0xFF) & 1) == 0 ? PF : 0;

    /// <summary>ZF, SF and PF of a result of the given sign bit: the part every ALU operation shares.</summary>
    internal static uint ResultFlags(uint res, uint sign)
    {
        uint mask = sign | (sign - 1);
        res &= mask;
        return (res == 0 ? ZF : 0) | ((res & sign) != 0 ? SF : 0) | Parity(res);
    }

    private uint ArithmeticFlags()
    {
        if (LazyOp == FlagOp.None)
            return FlagsRest & ArithFlags;
        return GetCFBit() | ResultFlags(LazyRes, LazySign) | GetAFBit() | (GetOF() ? OF : 0);
    }

    private uint GetAFBit() => LazyOp switch
    {
        FlagOp.None => FlagsRest & AF,
        FlagOp.Logic => 0,
        _ => (LazyA ^ LazyB ^ LazyRes) & AF,
    };

    private uint GetCFBit() => GetCF() ? CF : 0;

    internal bool GetCF()
    {
        uint mask = LazySign | (LazySign - 1);
        return LazyOp switch
        {
            FlagOp.None => (FlagsRest & CF) != 0,
            FlagOp.Add => (LazyRes & mask) < (LazyA & mask),
            FlagOp.Adc => LazyCarryIn != 0 ? (LazyRes & mask) <= (LazyA & mask) : (LazyRes & mask) < (LazyA & mask),
            FlagOp.Sub => (LazyA & mask) < (LazyB & mask),
            FlagOp.Sbb => LazyCarryIn != 0 ? (LazyA & mask) <= (LazyB & mask) : (LazyA & mask) < (LazyB & mask),
            FlagOp.Logic => false,
            _ => LazyCarryIn != 0,
        };
    }

    internal bool GetZF() => LazyOp == FlagOp.None ? (FlagsRest & ZF) != 0 : (LazyRes & (LazySign | (LazySign - 1))) == 0;

    internal bool GetSF() => LazyOp == FlagOp.None ? (FlagsRest & SF) != 0 : (LazyRes & LazySign) != 0;

    internal bool GetPF() => LazyOp == FlagOp.None ? (FlagsRest & PF) != 0 : Parity(LazyRes) != 0;

    internal bool GetOF() => LazyOp switch
    {
        FlagOp.None => (FlagsRest & OF) != 0,
        FlagOp.Add or FlagOp.Adc or FlagOp.Inc => ((LazyA ^ LazyRes) & (LazyB ^ LazyRes) & LazySign) != 0,
        FlagOp.Sub or FlagOp.Sbb or FlagOp.Dec => ((LazyA ^ LazyB) & (LazyA ^ LazyRes) & LazySign) != 0,
        _ => false,
    };

    internal bool GetAF() => GetAFBit() != 0;

    /// <summary>Evaluate condition code cc (the low nibble of Jcc/SETcc/CMOVcc opcodes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Condition(int cc)
    {
        // The commonest cases straight from the recorded operation: a 32-bit compare or
        // subtract, and ZF after anything lazy (DEC/JNZ loops, TEST/JZ).
        if (LazyOp == FlagOp.Sub && LazySign == 0x80000000)
        {
            uint a = LazyA, b = LazyB;
            switch (cc)
            {
                case 0x2: return a < b;
                case 0x3: return a >= b;
                case 0x4: return a == b;
                case 0x5: return a != b;
                case 0x6: return a <= b;
                case 0x7: return a > b;
                case 0xC: return (int)a < (int)b;
                case 0xD: return (int)a >= (int)b;
                case 0xE: return (int)a <= (int)b;
                case 0xF: return (int)a > (int)b;
            }
        }
        else if (LazyOp != FlagOp.None && (cc | 1) == 0x5)
        {
            return ((LazyRes & (LazySign | (LazySign - 1))) == 0) ^ (cc == 0x5);
        }

        return ConditionSlow(cc);
    }

    private bool ConditionSlow(int cc)
    {
        bool r = (cc >> 1) switch
        {
            0 => GetOF(),
            1 => GetCF(),
            2 => GetZF(),
            3 => GetCF() || GetZF(),
            4 => GetSF(),
            5 => GetPF(),
            6 => GetSF() != GetOF(),
            _ => GetZF() || GetSF() != GetOF(),
        };
        return r ^ ((cc & 1) != 0);
    }

    internal bool DirectionDown => (FlagsRest & DF) != 0;

    public bool InterruptsEnabled => (FlagsRest & IF) != 0;

    internal int Iopl => (int)((FlagsRest >> 12) & 3);
}

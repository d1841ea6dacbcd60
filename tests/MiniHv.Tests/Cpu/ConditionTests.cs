using System.Numerics;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>The 16 condition codes through SETcc, Jcc (short and near) and CMOVcc; LOOP/LOOPE/LOOPNE/JECXZ.</summary>
public class ConditionTests
{
    private const uint Results = 0x10000;

    /// <summary>Condition <paramref name="cc"/> (the low opcode nibble) as the manual defines it from the flags.</summary>
    private static bool Holds(int cc, uint flags)
    {
        bool cf = (flags & CF) != 0, zf = (flags & ZF) != 0, sf = (flags & SF) != 0, of = (flags & OF) != 0, pf = (flags & PF) != 0;
        bool r = (cc >> 1) switch
        {
            0 => of,
            1 => cf,
            2 => zf,
            3 => cf || zf,
            4 => sf,
            5 => pf,
            6 => sf != of,
            _ => zf || sf != of,
        };
        return r ^ ((cc & 1) != 0);
    }

    /// <summary>The flags of CMP a, b of the given size, computed independently of the core.</summary>
    private static uint CmpFlags(uint a, uint b, int size)
    {
        int bits = size * 8;
        ulong mask = (1ul << bits) - 1;
        ulong ua = a & mask, ub = b & mask;
        ulong diff = (ua - ub) & mask;
        long sa = (long)(ua << (64 - bits)) >> (64 - bits), sb = (long)(ub << (64 - bits)) >> (64 - bits);
        long exact = sa - sb;
        long min = -(1L << (bits - 1)), max = (1L << (bits - 1)) - 1;
        uint f = 0;
        if (ua < ub) f |= CF;
        if (diff == 0) f |= ZF;
        if ((diff >> (bits - 1)) != 0) f |= SF;
        if (exact < min || exact > max) f |= OF;
        if ((BitOperations.PopCount(diff & 0xFF) & 1) == 0) f |= PF;
        return f;
    }

    // SETcc r/m8 with a disp32 memory operand: 0F 90+cc, ModRM 05.
    private static void SetccToMemory(Assembler a, int cc, uint address)
    {
        a.db(0x0F, (byte)(0x90 + cc), 0x05);
        a.dd(address);
    }

    private static readonly uint[] FlagCombos = BuildCombos();

    private static uint[] BuildCombos()
    {
        var list = new List<uint>();
        uint[] bits = { CF, PF, ZF, SF, OF };
        for (int i = 0; i < 32; i++)
        {
            uint f = 0;
            for (int b = 0; b < 5; b++)
            {
                if ((i & (1 << b)) != 0)
                    f |= bits[b];
            }

            list.Add(f);
        }

        return list.ToArray();
    }

    [Test]
    public void Setcc_AllSixteenConditions_MatchTheManualForEveryFlagCombination()
    {
        using var m = Exec.Code(a =>
        {
            for (int i = 0; i < FlagCombos.Length; i++)
            {
                a.SetFlags(0x2 | FlagCombos[i]);
                for (int cc = 0; cc < 16; cc++)
                    SetccToMemory(a, cc, Results + (uint)(i * 16) + (uint)cc);
            }
        });
        for (int i = 0; i < FlagCombos.Length; i++)
        {
            for (int cc = 0; cc < 16; cc++)
            {
                byte expected = Holds(cc, FlagCombos[i]) ? (byte)1 : (byte)0;
                Assert.That(m.Memory.Read8(Results + (uint)(i * 16) + (uint)cc), Is.EqualTo(expected), $"cc {cc:x} flags {Exec.Names(FlagCombos[i])}");
            }
        }
    }

    [Test]
    public void Jcc_ShortAndNear_AllSixteenConditions_BranchExactlyWhenTheConditionHolds()
    {
        using var m = Exec.Code(a =>
        {
            for (int i = 0; i < FlagCombos.Length; i++)
            {
                a.SetFlags(0x2 | FlagCombos[i]);
                for (int cc = 0; cc < 16; cc++)
                {
                    uint slot = Results + (uint)(i * 32) + (uint)(cc * 2);

                    // Short form: mov byte [slot], 1; jcc +7; mov byte [slot], 0.
                    a.mov(__byte_ptr[slot], 1);
                    a.db((byte)(0x70 + cc), 7);
                    a.mov(__byte_ptr[slot], 0);

                    // Near form, rel32.
                    a.mov(__byte_ptr[slot + 1], 1);
                    a.db(0x0F, (byte)(0x80 + cc), 7, 0, 0, 0);
                    a.mov(__byte_ptr[slot + 1], 0);
                }
            }
        });
        for (int i = 0; i < FlagCombos.Length; i++)
        {
            for (int cc = 0; cc < 16; cc++)
            {
                byte expected = Holds(cc, FlagCombos[i]) ? (byte)1 : (byte)0;
                uint slot = Results + (uint)(i * 32) + (uint)(cc * 2);
                Assert.That(m.Memory.Read8(slot), Is.EqualTo(expected), $"short jcc {cc:x} flags {Exec.Names(FlagCombos[i])}");
                Assert.That(m.Memory.Read8(slot + 1), Is.EqualTo(expected), $"near jcc {cc:x} flags {Exec.Names(FlagCombos[i])}");
            }
        }
    }

    [Test]
    public void Cmovcc_AllSixteenConditions_MoveOnlyWhenTheConditionHolds()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[Results - 4], 0x22222222);
            a.mov(ecx, 0x11111111);
            for (int i = 0; i < FlagCombos.Length; i++)
            {
                a.SetFlags(0x2 | FlagCombos[i]);
                for (int cc = 0; cc < 16; cc++)
                {
                    uint slot = Results + (uint)(i * 128) + (uint)(cc * 8);
                    a.mov(edx, 0);
                    a.mov(ebx, 0);
                    a.db(0x0F, (byte)(0x40 + cc), 0xD1);                 // cmovcc edx, ecx
                    a.db(0x0F, (byte)(0x40 + cc), 0x1D);                 // cmovcc ebx, [disp32]
                    a.dd(Results - 4);
                    a.mov(__dword_ptr[slot], edx);
                    a.mov(__dword_ptr[slot + 4], ebx);
                }
            }
        });
        for (int i = 0; i < FlagCombos.Length; i++)
        {
            for (int cc = 0; cc < 16; cc++)
            {
                bool holds = Holds(cc, FlagCombos[i]);
                uint slot = Results + (uint)(i * 128) + (uint)(cc * 8);
                Assert.That(m.Memory.Read32(slot), Is.EqualTo(holds ? 0x11111111u : 0u), $"cmov reg {cc:x} flags {Exec.Names(FlagCombos[i])}");
                Assert.That(m.Memory.Read32(slot + 4), Is.EqualTo(holds ? 0x22222222u : 0u), $"cmov mem {cc:x} flags {Exec.Names(FlagCombos[i])}");
            }
        }
    }

    [Test]
    public void Cmov16_WhenTrue_MovesOnlyTheLowWord()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA5555);
            a.mov(ebx, 0x12345678);
            a.stc();
            a.cmovb(ax, bx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA5678u));
    }

    private static readonly (uint A, uint B)[] ComparePairs =
    {
        (0, 0), (1, 0), (0, 1), (0x7FFFFFFF, 0x80000000), (0x80000000, 0x7FFFFFFF), (0x80000000, 1),
        (0xFFFFFFFF, 1), (1, 0xFFFFFFFF), (0x7F, 0x80), (0x80, 0x7F), (0x7FFF, 0x8000), (0x8000, 0x7FFF),
        (0x12345678, 0x12345678), (0xFFFFFF00, 0x000000FF), (0x100, 0x1), (3, 0x80000003),
    };

    [TestCase(4)]
    [TestCase(2)]
    [TestCase(1)]
    public void Setcc_AfterCmp_AgreesWithTheSignedAndUnsignedOrder(int size)
    {
        using var m = Exec.Code(a =>
        {
            for (int p = 0; p < ComparePairs.Length; p++)
            {
                a.mov(eax, ComparePairs[p].A);
                a.mov(ebx, ComparePairs[p].B);
                if (size == 4)
                    a.cmp(eax, ebx);
                else if (size == 2)
                    a.cmp(ax, bx);
                else
                    a.cmp(al, bl);
                for (int cc = 0; cc < 16; cc++)
                    SetccToMemory(a, cc, Results + (uint)(p * 16) + (uint)cc);
            }
        });
        for (int p = 0; p < ComparePairs.Length; p++)
        {
            uint flags = CmpFlags(ComparePairs[p].A, ComparePairs[p].B, size);
            for (int cc = 0; cc < 16; cc++)
            {
                byte expected = Holds(cc, flags) ? (byte)1 : (byte)0;
                Assert.That(m.Memory.Read8(Results + (uint)(p * 16) + (uint)cc), Is.EqualTo(expected),
                    $"cmp {ComparePairs[p].A:x}, {ComparePairs[p].B:x} size {size} cc {cc:x}");
            }
        }
    }

    [Test]
    public void Jcc_AfterCmp_TakesTheSignedAndUnsignedBranches()
    {
        using var m = Exec.Code(a =>
        {
            var notBelow = a.CreateLabel();
            var notLess = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(esi, esi);
            a.mov(eax, 0xFFFFFFFF);
            a.cmp(eax, 1);
            a.jae(notBelow);            // unsigned: 0xFFFFFFFF >= 1, taken
            a.or(esi, 1);
            a.Label(ref notBelow);
            a.jl(notLess);              // signed: -1 < 1, taken
            a.or(esi, 2);
            a.Label(ref notLess);
            a.dec(eax);
            a.jz(done);                 // 0xFFFFFFFE: not zero, falls through
            a.or(esi, 4);
            a.Label(ref done);
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(4u));
    }

    [Test]
    public void Loop_DecrementsEcx_AndRunsTheBodyEcxTimes_WithoutTouchingFlags()
    {
        using var m = Exec.Code(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 5);
            a.mov(eax, 0);
            a.stc();
            a.Label(ref top);
            a.lea(eax, __[eax + 1]);
            a.loop(top);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(5u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0u));
        Assert.That(m.Cpu.Eflags & (CF | ZF), Is.EqualTo(CF), "LOOP leaves the flags");
    }

    [Test]
    public void Loope_StopsWhenZfClears_AndLoopne_StopsWhenZfSets()
    {
        using var m = Exec.Code(a =>
        {
            var l1 = a.CreateLabel();
            var l2 = a.CreateLabel();

            // LOOPE over bytes equal to 7, stopping at the first that is not.
            a.mov(__dword_ptr[0x9000], 0x09070707);
            a.mov(esi, 0x9000);
            a.mov(ecx, 10);
            a.Label(ref l1);
            a.cmp(__byte_ptr[esi], 7);
            a.lea(esi, __[esi + 1]);
            a.loope(l1);
            a.mov(edx, ecx);
            a.mov(edi, esi);

            // LOOPNE until a byte equals 9.
            a.mov(esi, 0x9000);
            a.mov(ecx, 10);
            a.Label(ref l2);
            a.cmp(__byte_ptr[esi], 9);
            a.lea(esi, __[esi + 1]);
            a.loopne(l2);
        });
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x9004u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(6u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x9004u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(6u));
    }

    [Test]
    public void Loope_StopsWhenEcxReachesZero_EvenWithZfSet()
    {
        using var m = Exec.Code(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 3);
            a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.cmp(eax, eax);
            a.loope(top);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(3u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0u));
    }

    [TestCase(0u, true)]
    [TestCase(1u, false)]
    [TestCase(0x10000u, false)]
    public void Jecxz_BranchesOnlyWhenAllOfEcxIsZero(uint ecxValue, bool taken)
    {
        using var m = Exec.Code(a =>
        {
            var skip = a.CreateLabel();
            a.mov(ecx, ecxValue);
            a.mov(eax, 1);
            a.jecxz(skip);
            a.mov(eax, 2);
            a.Label(ref skip);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(taken ? 1u : 2u));
    }

    [Test]
    public void JcxzAndLoopWithAddressSizePrefix_UseCxOnly()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ecx, 0x10000);
            a.mov(eax, 1);
            a.db(0x67, 0xE3, 0x05);     // jcxz +5: CX is zero, taken
            a.mov(eax, 2);
            a.mov(ecx, 0x20001);
            a.xor(ebx, ebx);
            a.inc(ebx);                 // one byte; the loop below jumps back over itself and this
            a.db(0x67, 0xE2, 0xFC);     // loop (CX) back to inc ebx: CX 1 -> 0, falls through
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(1u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x20000u), "only CX is decremented");
    }
}

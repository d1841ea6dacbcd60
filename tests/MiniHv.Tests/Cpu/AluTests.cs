using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>ADD/ADC/SUB/SBB/CMP/NEG/NOT/INC/DEC and the logic operations, with every arithmetic flag checked.</summary>
public class AluTests
{
    private const uint LogicMask = CF | PF | ZF | SF | OF; // AF is undefined after AND/OR/XOR/TEST

    private static (uint Result, uint Flags) Run32(string op, uint a, uint b, bool carryIn = false)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.mov(ebx, b);
            if (carryIn)
                asm.stc();
            else
                asm.clc();
            switch (op)
            {
                case "add": asm.add(eax, ebx); break;
                case "adc": asm.adc(eax, ebx); break;
                case "sub": asm.sub(eax, ebx); break;
                case "sbb": asm.sbb(eax, ebx); break;
                case "cmp": asm.cmp(eax, ebx); break;
                case "and": asm.and(eax, ebx); break;
                case "or": asm.or(eax, ebx); break;
                case "xor": asm.xor(eax, ebx); break;
                case "test": asm.test(eax, ebx); break;
                default: throw new ArgumentException(op);
            }
        });
        return (m.Cpu.Eax, m.Cpu.Eflags & Exec.ArithFlags);
    }

    private static void AssertFlags(uint actual, uint expected, uint mask = Exec.ArithFlags)
        => Assert.That(Exec.Names(actual & mask), Is.EqualTo(Exec.Names(expected & mask)));

    [TestCase(0x7FFFFFFFu, 1u, 0x80000000u, OF | SF | AF | PF)]
    [TestCase(0xFFFFFFFFu, 1u, 0u, CF | ZF | AF | PF)]
    [TestCase(0x80000000u, 0x80000000u, 0u, CF | OF | ZF | PF)]
    [TestCase(1u, 1u, 2u, 0u)]
    [TestCase(0x0Fu, 1u, 0x10u, AF)]
    [TestCase(0xFFFFFFFEu, 3u, 1u, CF | AF)]
    [TestCase(0x80000000u, 0xFFFFFFFFu, 0x7FFFFFFFu, CF | OF | PF)]
    public void Add_SetsCarryAndOverflow_AtSignedAndUnsignedBoundaries(uint a, uint b, uint result, uint flags)
    {
        var (res, f) = Run32("add", a, b);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags);
    }

    [TestCase(0x80000000u, 1u, 0x7FFFFFFFu, OF | AF | PF)]
    [TestCase(0u, 1u, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(5u, 5u, 0u, ZF | PF)]
    [TestCase(0x7FFFFFFFu, 0xFFFFFFFFu, 0x80000000u, CF | OF | SF | PF)]
    [TestCase(3u, 5u, 0xFFFFFFFEu, CF | SF | AF)]
    [TestCase(0x10u, 1u, 0xFu, AF | PF)]
    public void Sub_SetsBorrowAndOverflow_AtSignedAndUnsignedBoundaries(uint a, uint b, uint result, uint flags)
    {
        var (res, f) = Run32("sub", a, b);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags);
    }

    [TestCase(0x80000000u, 1u, OF | AF | PF)]
    [TestCase(0u, 1u, CF | SF | AF | PF)]
    [TestCase(5u, 5u, ZF | PF)]
    [TestCase(0x7FFFFFFFu, 0xFFFFFFFFu, CF | OF | SF | PF)]
    public void Cmp_SetsFlagsLikeSub_AndLeavesTheRegister(uint a, uint b, uint flags)
    {
        var (res, f) = Run32("cmp", a, b);
        Assert.That(res, Is.EqualTo(a));
        AssertFlags(f, flags);
    }

    [TestCase(0xFFFFFFFFu, 0u, true, 0u, CF | ZF | AF | PF)]
    [TestCase(0x7FFFFFFFu, 0u, true, 0x80000000u, OF | SF | AF | PF)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, true, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, false, 0xFFFFFFFEu, CF | SF | AF)]
    [TestCase(1u, 1u, false, 2u, 0u)]
    [TestCase(1u, 1u, true, 3u, PF)]
    public void Adc_AddsTheCarry_AndCarriesOutEvenWhenTheSumWrapsToTheFirstOperand(uint a, uint b, bool cf, uint result, uint flags)
    {
        var (res, f) = Run32("adc", a, b, cf);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags);
    }

    [TestCase(0u, 0u, true, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(5u, 5u, true, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(0x80000000u, 0u, true, 0x7FFFFFFFu, OF | AF | PF)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, true, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, false, 0u, ZF | PF)]
    [TestCase(6u, 5u, true, 0u, ZF | PF)]
    public void Sbb_SubtractsTheBorrow_AndBorrowsWhenOperandsAreEqual(uint a, uint b, bool cf, uint result, uint flags)
    {
        var (res, f) = Run32("sbb", a, b, cf);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags);
    }

    [Test]
    public void AddAdcChain_Adds64BitNumbers()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xFFFFFFFF);
            a.mov(edx, 0x00000001);
            a.add(eax, 1);
            a.adc(edx, 0);
            a.mov(esi, 0);
            a.mov(edi, 0x2);
            a.sub(esi, 1);
            a.sbb(edi, 0);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(2u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Cpu.Edi, Is.EqualTo(1u));
    }

    [TestCase(true, 0xFFFFFFFFu)]
    [TestCase(false, 0u)]
    public void SbbRegisterWithItself_SpreadsTheCarryAcrossTheRegister(bool cf, uint expected)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345678);
            if (cf)
                a.stc();
            else
                a.clc();
            a.sbb(eax, eax);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(expected));
        Assert.That((m.Cpu.Eflags & CF) != 0, Is.EqualTo(cf));
    }

    [TestCase("and", 0xF0F0F0F0u, 0x0F0F0F0Fu, 0u, ZF | PF)]
    [TestCase("and", 0xFFFFFFFFu, 0x80000001u, 0x80000001u, SF)]
    [TestCase("or", 0x80000000u, 0x00000000u, 0x80000000u, SF | PF)]
    [TestCase("or", 0x1u, 0x2u, 0x3u, PF)]
    [TestCase("xor", 0x12345678u, 0x12345678u, 0u, ZF | PF)]
    [TestCase("xor", 0xFFFFFFFFu, 0x7FFFFFFEu, 0x80000001u, SF)]
    public void LogicOps_ClearCarryAndOverflow_AndSetResultFlags(string op, uint a, uint b, uint result, uint flags)
    {
        // Start with CF and OF set: logic operations must clear them.
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.mov(ebx, b);
            asm.SetFlags(0x2 | CF | OF);
            switch (op)
            {
                case "and": asm.and(eax, ebx); break;
                case "or": asm.or(eax, ebx); break;
                default: asm.xor(eax, ebx); break;
            }
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        AssertFlags(m.Cpu.Eflags, flags, LogicMask);
    }

    [Test]
    public void Test_SetsFlagsOfTheAnd_WithoutWritingEitherOperand()
    {
        var (res, f) = Run32("test", 0x80000000, 0xC0000000);
        Assert.That(res, Is.EqualTo(0x80000000u));
        AssertFlags(f, SF | PF, LogicMask);
        var (_, f2) = Run32("test", 0xFF00, 0x00FF);
        AssertFlags(f2, ZF | PF, LogicMask);
    }

    [TestCase(0u, 0u, ZF | PF)]
    [TestCase(1u, 0xFFFFFFFFu, CF | SF | AF | PF)]
    [TestCase(0x80000000u, 0x80000000u, CF | OF | SF | PF)]
    [TestCase(0x7FFFFFFFu, 0x80000001u, CF | SF | AF)]
    public void Neg_SetsCarryUnlessZero_AndOverflowForTheMostNegativeValue(uint a, uint result, uint flags)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.neg(eax);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        AssertFlags(m.Cpu.Eflags, flags);
    }

    [Test]
    public void Neg8_OfMinus128_OverflowsAndKeepsTheUpperBits()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0x12345680);
            asm.neg(al);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345680u));
        AssertFlags(m.Cpu.Eflags, CF | OF | SF);
    }

    [Test]
    public void Not_InvertsEveryBit_AndLeavesAllFlags()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0x0F0F1234);
            asm.mov(__dword_ptr[0x9000], 0xFFFF0000);
            asm.SetFlags(0x2 | CF | PF | AF | ZF | SF | OF);
            asm.not(eax);
            asm.not(__word_ptr[0x9000]);
            asm.not(bh);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xF0F0EDCBu));
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0xFFFFFFFFu));
        AssertFlags(m.Cpu.Eflags, CF | PF | AF | ZF | SF | OF);
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x0000FF00u));
    }

    [TestCase(true, 0xFFFFFFFFu, "inc", 0u, CF | ZF | AF | PF)]
    [TestCase(false, 0x7FFFFFFFu, "inc", 0x80000000u, OF | SF | AF | PF)]
    [TestCase(true, 0x80000000u, "dec", 0x7FFFFFFFu, CF | OF | AF | PF)]
    [TestCase(false, 1u, "dec", 0u, ZF | PF)]
    [TestCase(false, 0u, "dec", 0xFFFFFFFFu, SF | AF | PF)]
    [TestCase(true, 0x0Fu, "inc", 0x10u, CF | AF)]
    public void IncDec_SetOverflowAndResultFlags_ButPreserveCarry(bool cf, uint a, string op, uint result, uint flags)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            if (cf)
                asm.stc();
            else
                asm.clc();
            if (op == "inc")
                asm.inc(eax);
            else
                asm.dec(eax);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        AssertFlags(m.Cpu.Eflags, flags);
    }

    [Test]
    public void IncDec_PreserveTheCarryOfAPrecedingAdd_ThroughAChain()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0xFFFFFFFF);
            asm.mov(ebx, 2);
            asm.add(eax, ebx); // CF=1
            asm.inc(ecx);
            asm.dec(edx);
            asm.inc(ecx);
            asm.setc(bl);
            asm.sub(eax, 0); // CF=0
            asm.dec(ecx);
            asm.setc(bh);
        });
        Assert.That(m.Cpu.Ebx & 0xFFFF, Is.EqualTo(0x0001u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xFFFFFFFFu));
    }

    [Test]
    public void IncDec_OnMemoryAnd16And8BitRegisters_WrapWithinTheirSize()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(__dword_ptr[0x9000], 0x000000FF);
            asm.mov(eax, 0x1234FFFF);
            asm.mov(ebx, 0x00000080);
            asm.stc();
            asm.inc(__byte_ptr[0x9000]);
            asm.inc(ax);
            asm.dec(bl);
            asm.SaveFlags(esi);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12340000u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x7Fu));

        // dec bl from 0x80: OF set, CF still the STC's.
        AssertFlags(m.Cpu.Esi, CF | OF | AF);
    }

    [TestCase(0x7Fu, 1u, 0x80u, OF | SF | AF)]
    [TestCase(0xFFu, 1u, 0x00u, CF | ZF | AF | PF)]
    [TestCase(0x80u, 0x80u, 0x00u, CF | OF | ZF | PF)]
    public void Add8_SetsFlagsAtByteBoundaries_AndKeepsUpperBits(uint a, uint b, uint result, uint flags)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0xABCDEF00 | a);
            asm.mov(ecx, 0x1234AB00 | b);
            asm.add(al, cl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xABCDEF00u | result));
        AssertFlags(m.Cpu.Eflags, flags);
    }

    [Test]
    public void Add8_OnHighByteRegisters_UsesAhChDhBh()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0x00007F00);
            asm.mov(ecx, 0x00000100);
            asm.add(ah, ch);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x00008000u));
        AssertFlags(m.Cpu.Eflags, OF | SF | AF);
    }

    [TestCase(0x7FFFu, 1u, 0x8000u, OF | SF | AF | PF)]
    [TestCase(0xFFFFu, 1u, 0x0000u, CF | ZF | AF | PF)]
    [TestCase(0x8000u, 0x8000u, 0x0000u, CF | OF | ZF | PF)]
    public void Add16_SetsFlagsAtWordBoundaries_AndKeepsUpperBits(uint a, uint b, uint result, uint flags)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0xABCD0000 | a);
            asm.mov(ecx, 0x12340000 | b);
            asm.add(ax, cx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xABCD0000u | result));
        AssertFlags(m.Cpu.Eflags, flags);
    }

    [TestCase(0x0000u, 1u, 0xFFFFu, CF | SF | AF | PF)]
    [TestCase(0x8000u, 1u, 0x7FFFu, OF | AF | PF)]
    public void Sub16_SetsFlagsAtWordBoundaries(uint a, uint b, uint result, uint flags)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0x55550000 | a);
            asm.sub(ax, (short)b);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x55550000u | result));
        AssertFlags(m.Cpu.Eflags, flags);
    }

    [Test]
    public void SignExtendedImmediate8_IsExtendedToTheOperandSize()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 5);
            asm.add(eax, -1);
            asm.mov(ebx, 0xFFFF0000);
            asm.or(bx, -2);
            asm.mov(ecx, 0xFFFF);
            asm.cmp(cx, -1);
            asm.setz(dl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(4u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFFFFFEu));
        Assert.That(m.Cpu.Edx & 0xFF, Is.EqualTo(1u));
    }

    [Test]
    public void MemoryDestinationForms_ReadModifyWriteAndSetFlags()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(ebx, 0x9000);
            asm.mov(__dword_ptr[ebx], 0xFFFFFFFF);
            asm.mov(__dword_ptr[ebx + 4], 10);
            asm.mov(__dword_ptr[ebx + 8], 0x7F);
            asm.mov(ecx, 1);
            asm.add(__dword_ptr[ebx], ecx);
            asm.SaveFlags(esi);
            asm.sub(__dword_ptr[ebx + 4], 3);
            asm.add(__byte_ptr[ebx + 8], 1);
            asm.SaveFlags(edi);
            asm.stc();
            asm.adc(__word_ptr[ebx + 12], 0x10);
            asm.stc();
            asm.sbb(__dword_ptr[ebx + 16], ecx);
            asm.cmp(__dword_ptr[ebx + 4], 7);
            asm.setz(al);
            asm.and(__dword_ptr[ebx + 4], 4);
            asm.or(__dword_ptr[ebx + 20], ecx);
            asm.xor(ecx, __dword_ptr[ebx + 4]);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0u));
        AssertFlags(m.Cpu.Esi, CF | ZF | AF | PF);
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(4u));
        Assert.That(m.Memory.Read32(0x9008), Is.EqualTo(0x80u));
        AssertFlags(m.Cpu.Edi, OF | SF | AF);
        Assert.That(m.Memory.Read32(0x900C), Is.EqualTo(0x11u));
        Assert.That(m.Memory.Read32(0x9010), Is.EqualTo(0xFFFFFFFEu));
        Assert.That(m.Cpu.Eax & 0xFF, Is.EqualTo(1u));
        Assert.That(m.Memory.Read32(0x9014), Is.EqualTo(1u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(5u));
    }

    [Test]
    public void LockPrefix_IsAccepted_OnReadModifyWriteInstructions()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(ebx, 0x9000);
            asm.mov(ecx, 5);
            asm.@lock.add(__dword_ptr[ebx], ecx);
            asm.@lock.inc(__dword_ptr[ebx]);
            asm.@lock.or(__dword_ptr[ebx + 4], 0x10);
            asm.@lock.bts(__dword_ptr[ebx + 8], 3);
            asm.@lock.xadd(__dword_ptr[ebx], ecx);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(11u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(6u));
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(0x10u));
        Assert.That(m.Memory.Read32(0x9008), Is.EqualTo(8u));
    }

    [Test]
    public void Parity_CountsOnlyTheLowByte()
    {
        // 0x00000300: low byte 0 (even) although the whole value has two bits; 0x00000001: odd.
        var (_, f1) = Run32("or", 0x300, 0);
        var (_, f2) = Run32("or", 0x103, 0);
        var (_, f3) = Run32("or", 0xFF01, 0);
        Assert.That(f1 & PF, Is.EqualTo(PF));
        Assert.That(f2 & PF, Is.EqualTo(PF));
        Assert.That(f3 & PF, Is.EqualTo(0u));
    }

    [Test]
    public void AdcAndSbb8And16_CarryAtTheirOwnWidth()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, 0x111111FF);
            asm.mov(ebx, 0);
            asm.stc();
            asm.adc(al, bl);            // 0xFF + 0 + 1 = 0x100: AL 0, carry out of the byte
            asm.SaveFlags(esi);
            asm.mov(ecx, 0x22220000);
            asm.mov(edx, 0xFF);
            asm.stc();
            asm.sbb(cl, dl);            // 0 - 0xFF - 1 = 0x00 with a borrow
            asm.SaveFlags(edi);
            asm.mov(ebp, 0x33337FFF);
            asm.stc();
            asm.adc(bp, 0);             // 0x7FFF + 1 = 0x8000: signed overflow
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x11111100u));
        AssertFlags(m.Cpu.Esi, CF | ZF | AF | PF);
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x22220000u));
        AssertFlags(m.Cpu.Edi, CF | ZF | AF | PF);
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x33338000u));
        AssertFlags(m.Cpu.Eflags, OF | SF | AF | PF);
    }

    [Test]
    public void TestOnMemory_SetsSignFromTheOperandWidth()
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(__dword_ptr[0x9000], 0x00008080);
            asm.test(__byte_ptr[0x9000], 0x80);
            asm.SaveFlags(esi);
            asm.test(__dword_ptr[0x9000], 0x8000);
        });
        AssertFlags(m.Cpu.Esi, SF, LogicMask);
        AssertFlags(m.Cpu.Eflags, PF, LogicMask);
    }
}

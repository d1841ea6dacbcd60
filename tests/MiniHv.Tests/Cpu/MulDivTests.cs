using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>MUL, IMUL in its one-, two- and three-operand forms, DIV and IDIV with #DE on zero and on overflow.</summary>
public class MulDivTests
{
    private const uint MulDefined = CF | OF; // SF, ZF, AF, PF are undefined after a multiply

    [TestCase(0x80u, 2u, 0x0100u, true)]
    [TestCase(0x10u, 0x0Fu, 0x00F0u, false)]
    [TestCase(0xFFu, 0xFFu, 0xFE01u, true)]
    public void Mul8_PutsTheProductInAx_AndFlagsAHighHalf(uint x, uint y, uint product, bool overflow)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12340000 | x);
            a.mov(ebx, y);
            a.mov(edx, 0x55555555);
            a.mul(bl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12340000u | product));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x55555555u), "8-bit MUL leaves DX");
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(overflow ? CF | OF : 0u));
    }

    [Test]
    public void Mul16_PutsTheProductInDxAx_KeepingTheUpperHalves()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA8000);
            a.mov(edx, 0xBBBB1234);
            a.mov(ebx, 2);
            a.mul(bx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA0000u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xBBBB0001u));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(CF | OF));
    }

    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFEu, 0x00000001u, true)]
    [TestCase(0x00010000u, 0x00010000u, 0x00000001u, 0x00000000u, true)]
    [TestCase(3u, 5u, 0u, 15u, false)]
    [TestCase(0x80000000u, 1u, 0u, 0x80000000u, false)]
    public void Mul32_PutsTheProductInEdxEax_AndFlagsANonZeroHighHalf(uint a, uint b, uint hi, uint lo, bool overflow)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.mov(__dword_ptr[0x9000], b);
            asm.mul(__dword_ptr[0x9000]);
        });
        Assert.That(m.Cpu.Edx, Is.EqualTo(hi));
        Assert.That(m.Cpu.Eax, Is.EqualTo(lo));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(overflow ? CF | OF : 0u));
    }

    [Test]
    public void MulFlags_BeyondCarryAndOverflow_FollowQemu()
    {
        // SF/ZF/PF/AF are undefined; Cpu.MulDiv.cs documents QEMU's choice: SF, ZF and PF from the
        // low half of the product, AF clear.
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x10000);
            a.mov(ebx, 0x10000);
            a.SetFlags(0x2 | AF | SF);
            a.mul(ebx);
        });
        Assert.That(m.Cpu.Eflags & Exec.ArithFlags, Is.EqualTo(CF | OF | ZF | PF));
    }

    [TestCase(0x80u, 0xFFu, 0x0080u, true)]
    [TestCase(0xFEu, 0x03u, 0xFFFAu, false)]
    [TestCase(0x7Fu, 0x7Fu, 0x3F01u, true)]
    [TestCase(0xF0u, 0x08u, 0xFF80u, false)]
    public void Imul8_IsSigned_AndOverflowsWhenAxIsNotTheSignExtensionOfAl(uint x, uint y, uint product, bool overflow)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, x);
            a.mov(ebx, y);
            a.imul(bl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(product));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(overflow ? CF | OF : 0u));
    }

    [Test]
    public void Imul16_OneOperand_SignExtendsIntoDx()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x4000);
            a.mov(ebx, 2);
            a.imul(bx);                 // +32768 does not fit a signed word
            a.SaveFlags(esi);
            a.mov(ecx, eax);
            a.mov(eax, 0xFFFF);         // -1
            a.mov(ebx, 5);
            a.imul(bx);                 // -5: DX = 0xFFFF, no overflow
        });
        Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(0x8000u));
        Assert.That(m.Cpu.Esi & MulDefined, Is.EqualTo(CF | OF));
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0xFFFBu));
        Assert.That(m.Cpu.Edx & 0xFFFF, Is.EqualTo(0xFFFFu));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(0u));
    }

    [TestCase(0x80000000u, 0xFFFFFFFFu, 0x00000000u, 0x80000000u, true)]
    [TestCase(0xFFFFFFFDu, 4u, 0xFFFFFFFFu, 0xFFFFFFF4u, false)]
    [TestCase(0x7FFFFFFFu, 2u, 0x00000000u, 0xFFFFFFFEu, true)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, 0u, 1u, false)]
    public void Imul32_OneOperand_GivesTheSigned64BitProduct(uint a, uint b, uint hi, uint lo, bool overflow)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.mov(ecx, b);
            asm.imul(ecx);
        });
        Assert.That(m.Cpu.Edx, Is.EqualTo(hi));
        Assert.That(m.Cpu.Eax, Is.EqualTo(lo));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(overflow ? CF | OF : 0u));
    }

    [TestCase(0x00010000u, 0x00010000u, 0u, true)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, 1u, false)]
    [TestCase(0x40000000u, 2u, 0x80000000u, true)]
    [TestCase(0xC0000000u, 2u, 0x80000000u, false)]
    public void Imul32_TwoOperand_TruncatesAndFlagsSignedOverflow(uint a, uint b, uint result, bool overflow)
    {
        using var m = Exec.Code(asm =>
        {
            asm.mov(eax, a);
            asm.mov(ebx, b);
            asm.mov(edx, 0x5A5A5A5A);
            asm.imul(eax, ebx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x5A5A5A5Au), "two-operand IMUL does not touch EDX");
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(overflow ? CF | OF : 0u));
    }

    [Test]
    public void Imul_ThreeOperand_WithImmediate8And32_AndMemorySource()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 7);
            a.imul(eax, ebx, -2);                       // imm8, sign-extended
            a.mov(__dword_ptr[0x9000], 3000000);
            a.imul(ecx, __dword_ptr[0x9000], 1000);     // 3e9 overflows a signed dword
            a.SaveFlags(esi);
            a.mov(edx, 0xAAAA0000 | 0x0100);
            a.imul(dx, dx, 0x100);                      // 0x10000 overflows a word
            a.SaveFlags(edi);
            a.imul(ebp, ebx, 0x12345);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(unchecked((uint)-14)));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(unchecked((uint)3_000_000_000)));
        Assert.That(m.Cpu.Esi & MulDefined, Is.EqualTo(CF | OF));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xAAAA0000u));
        Assert.That(m.Cpu.Edi & MulDefined, Is.EqualTo(CF | OF));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(7u * 0x12345));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(0u));
    }

    [Test]
    public void Imul16_TwoOperand_KeepsTheUpperHalf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x1234FFFE);     // -2
            a.mov(ebx, 0x00000003);
            a.imul(ax, bx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x1234FFFAu));
        Assert.That(m.Cpu.Eflags & MulDefined, Is.EqualTo(0u));
    }

    [TestCase(0x0100u, 2u, 0x0080u)]
    [TestCase(251u, 10u, 0x0119u)]
    [TestCase(0x00FFu, 0xFFu, 0x0001u)]
    public void Div8_PutsQuotientInAlAndRemainderInAh(uint dividend, uint divisor, uint result)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x77770000 | dividend);
            a.mov(ecx, divisor);
            a.div(cl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x77770000u | result));
    }

    [Test]
    public void Div16And32_UseDxAxAndEdxEax()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(edx, 0x99990001);
            a.mov(eax, 0x88880005);
            a.mov(ebx, 0x10);
            a.div(bx);                  // 0x10005 / 0x10 = 0x1000 rem 5
            a.mov(esi, eax);
            a.mov(edi, edx);
            a.mov(edx, 1);
            a.mov(eax, 3);
            a.mov(ecx, 2);
            a.div(ecx);                 // 0x1_00000003 / 2 = 0x80000001 rem 1
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x88881000u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x99990005u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80000001u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(1u));
    }

    [Test]
    public void Idiv_TruncatesTowardZero_AndTheRemainderTakesTheDividendSign()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, unchecked((uint)-7));
            a.cdq();
            a.mov(ecx, 2);
            a.idiv(ecx);
            a.mov(esi, eax);
            a.mov(edi, edx);
            a.mov(eax, unchecked((uint)-100) & 0xFFFF);
            a.mov(ebx, 7);
            a.idiv(bl);                 // -100 / 7 = -14 rem -2
            a.mov(ebp, eax);
            a.mov(eax, 0xFF00);         // -256 / 2 = -128 fits a signed byte
            a.mov(ebx, 2);
            a.idiv(bl);
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked((uint)-3)));
        Assert.That(m.Cpu.Edi, Is.EqualTo(unchecked((uint)-1)));
        Assert.That(m.Cpu.Ebp & 0xFFFF, Is.EqualTo(0xFEF2u));
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0x0080u));
    }

    [Test]
    public void Idiv16_WithNegativeDivisor_GivesSignedQuotient()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(edx, 0);
            a.mov(eax, 1000);
            a.mov(ebx, 0xFFF6);         // -10
            a.idiv(bx);
        });
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0xFF9Cu)); // -100
        Assert.That(m.Cpu.Edx & 0xFFFF, Is.EqualTo(0u));
    }

    private static void AssertDivideError(Action<MiniHv.Cpu.Cpu> setup, Action<Assembler> divide)
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Load(a =>
        {
            divide(a);
            a.hlt();
        });
        setup(m.Cpu);
        uint eax = m.Cpu.Eax, edx = m.Cpu.Edx;
        var stop = m.Cpu.Run(1000);
        t.AssertHaltedIn(Vectors.DE, stop);
        Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase), "#DE is a fault: the pushed EIP names the DIV");
        Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.KernelCode));
        Assert.That(m.Cpu.Eax, Is.EqualTo(eax), "EAX unchanged");
        Assert.That(m.Cpu.Edx, Is.EqualTo(edx), "EDX unchanged");
    }

    [Test]
    public void Div_ByZero_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 10; c.Edx = 0; c.Ebx = 0; }, a => a.div(ebx));

    [Test]
    public void Div8_ByZero_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 10; c.Ebx = 0x100; }, a => a.div(bl));

    [Test]
    public void Div32_QuotientTooLarge_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0; c.Edx = 2; c.Ebx = 2; }, a => a.div(ebx));

    [Test]
    public void Div8_QuotientTooLarge_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0x1000; c.Ebx = 0x10; }, a => a.div(bl));

    [Test]
    public void Idiv32_MostNegativeByMinusOne_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0x80000000; c.Edx = 0xFFFFFFFF; c.Ecx = 0xFFFFFFFF; }, a => a.idiv(ecx));

    [Test]
    public void Idiv16_MostNegativeByMinusOne_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0x8000; c.Edx = 0xFFFF; c.Ecx = 0xFFFF; }, a => a.idiv(cx));

    [Test]
    public void Idiv8_QuotientOf128_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0xFF80; c.Ecx = 0xFF; }, a => a.idiv(cl));

    [Test]
    public void Idiv32_PositiveQuotientAboveIntMax_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 0; c.Edx = 1; c.Ecx = 2; }, a => a.idiv(ecx));

    [Test]
    public void Idiv_ByZeroInMemory_RaisesDivideError()
        => AssertDivideError(c => { c.Eax = 1; c.Edx = 0; }, a => a.idiv(__dword_ptr[0x9000]));
}

using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>DAA, DAS, AAA, AAS, AAM, AAD: results and the flags the manual defines for each.</summary>
public class BcdTests
{
    private const uint DaaDefined = CF | AF | SF | ZF | PF; // OF undefined
    private const uint AsciiDefined = CF | AF;               // OF, SF, ZF, PF undefined
    private const uint AamDefined = SF | ZF | PF;            // OF, AF, CF undefined

    [TestCase(0x79u, 0x35u, 0x14u, CF | AF | PF)]
    [TestCase(0x38u, 0x45u, 0x83u, AF | SF)]
    [TestCase(0x99u, 0x01u, 0x00u, CF | AF | ZF | PF)]
    [TestCase(0x09u, 0x08u, 0x17u, AF | PF)]
    [TestCase(0x12u, 0x34u, 0x46u, 0u)]
    public void Daa_AfterPackedBcdAdd_GivesTheDecimalSum(uint x, uint y, uint result, uint flags)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xABCD0000 | x);
            a.add(al, (byte)y);
            a.daa();
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xABCD0000u | result));
        Assert.That(Exec.Names(m.Cpu.Eflags & DaaDefined), Is.EqualTo(Exec.Names(flags)));
    }

    [Test]
    public void DaaAndDas_ClearTheUndefinedOverflowFlag_AsQemuDoes()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x7F);
            a.add(al, 1);     // 0x80: OF set
            a.daa();
            a.SaveFlags(ebx);
            a.mov(eax, 0x80);
            a.sub(al, 1);     // 0x7F: OF set
            a.das();
        });
        Assert.That(m.Cpu.Ebx & OF, Is.Zero, "DAA");
        Assert.That(m.Cpu.Eflags & OF, Is.Zero, "DAS");
    }

    [TestCase(0x35u, 0x47u, 0x88u, CF | AF | SF | PF)]
    [TestCase(0x47u, 0x35u, 0x12u, PF)]
    [TestCase(0x50u, 0x01u, 0x49u, AF)]
    public void Das_AfterPackedBcdSubtract_GivesTheDecimalDifference(uint x, uint y, uint result, uint flags)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, x);
            a.sub(al, (byte)y);
            a.das();
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        Assert.That(Exec.Names(m.Cpu.Eflags & DaaDefined), Is.EqualTo(Exec.Names(flags)));
    }

    [Test]
    public void Das_WithAuxCarryAndSmallAl_KeepsTheBorrowOfTheFirstStep()
    {
        // The manual's DAS: CF <- old CF or the borrow of AL - 6, even when the second step is skipped.
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x03);
            a.SetFlags(0x2 | AF);
            a.das();
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xFDu));
        Assert.That(Exec.Names(m.Cpu.Eflags & DaaDefined), Is.EqualTo(Exec.Names(CF | AF | SF)));
    }

    [Test]
    public void Aaa_AdjustsAnUnpackedSum_AndCarriesIntoAh()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x0006);
            a.add(al, 5);               // 0x0B
            a.aaa();                    // AX = 0x0101, CF = AF = 1
            a.SaveFlags(esi);
            a.mov(ebx, eax);
            a.mov(eax, 0x0105);
            a.SetFlags(0x2);
            a.aaa();                    // no adjust: AL's high nibble cleared, CF = AF = 0
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x0101u));
        Assert.That(m.Cpu.Esi & AsciiDefined, Is.EqualTo(CF | AF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x0105u));
        Assert.That(m.Cpu.Eflags & AsciiDefined, Is.EqualTo(0u));
    }

    [Test]
    public void Aaa_ClearsTheHighNibbleOfAl_WhenNoAdjustIsNeeded()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x0237);
            a.SetFlags(0x2 | CF);
            a.aaa();
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x0207u));
        Assert.That(m.Cpu.Eflags & AsciiDefined, Is.EqualTo(0u));
    }

    [Test]
    public void Aas_AdjustsAnUnpackedDifference_AndBorrowsFromAh()
    {
        // AL >= 6 here: the 8086-style and the later "AX - 6" descriptions agree.
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x020B);
            a.SetFlags(0x2);
            a.aas();
            a.SaveFlags(esi);
            a.mov(ebx, eax);
            a.mov(eax, 0x0238);
            a.SetFlags(0x2 | CF);
            a.aas();
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x0105u));
        Assert.That(m.Cpu.Esi & AsciiDefined, Is.EqualTo(CF | AF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x0208u));
        Assert.That(m.Cpu.Eflags & AsciiDefined, Is.EqualTo(0u));
    }

    [Test]
    public void Aam_SplitsAlIntoDigits_InAnyBase()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xFFFF004F);     // 79
            a.aam(10);
            a.SaveFlags(esi);
            a.mov(ebx, eax);
            a.mov(eax, 0x4F);
            a.aam(16);
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFF0709u));
        Assert.That(m.Cpu.Esi & AamDefined, Is.EqualTo(PF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x040Fu));
        Assert.That(m.Cpu.Eflags & AamDefined, Is.EqualTo(PF));
    }

    [Test]
    public void Aad_CombinesDigitsIntoAl_AndClearsAh()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12340709);
            a.aad(10);
            a.SaveFlags(esi);
            a.mov(ebx, 0x0000);
            a.mov(ecx, eax);
            a.mov(eax, 0x0000);
            a.aad(10);
        });
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x1234004Fu));
        Assert.That(m.Cpu.Esi & AamDefined, Is.EqualTo(0u));
        Assert.That(m.Cpu.Eflags & AamDefined, Is.EqualTo(ZF | PF));
    }

    [Test]
    public void Aam_WithBaseZero_RaisesDivideError()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x4F);
            a.aam(0);
            a.hlt();
        });
        t.AssertHaltedIn(MiniHv.Cpu.Vectors.DE, stop);
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x4Fu));
    }
}

using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>Near CALL/RET (with imm16), indirect jumps and calls, jump tables, and their 16-bit operand-size forms.</summary>
public class ControlTransferTests
{
    [Test]
    public void Call_PushesTheReturnAddress_AndRetPopsIt()
    {
        using var m = new TestMachine();
        uint returnAddress = 0;
        m.Load(a =>
        {
            var fn = a.CreateLabel();
            a.call(fn);
            a.hlt();                    // return lands here
            a.Label(ref fn);
            a.mov(eax, __dword_ptr[esp]);
            a.mov(ebx, esp);
            a.ret();
        });
        returnAddress = TestMachine.CodeBase + 5;
        Assert.That(m.Cpu.Run(100), Is.EqualTo(MiniHv.Cpu.StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(returnAddress));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x80000u - 4));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
        Assert.That(m.Cpu.Eip, Is.EqualTo(returnAddress + 1));
    }

    [Test]
    public void RetImm16_ReleasesTheCallersArguments()
    {
        using var m = Exec.Code(a =>
        {
            var fn = a.CreateLabel();
            var end = a.CreateLabel();
            a.push(30);
            a.push(12);
            a.call(fn);
            a.jmp(end);
            a.Label(ref fn);
            a.mov(eax, __dword_ptr[esp + 4]);
            a.add(eax, __dword_ptr[esp + 8]);
            a.ret(8);
            a.Label(ref end);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(42u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
    }

    [Test]
    public void CallAndJmp_ThroughRegisterAndMemory_ReachTheirTargets()
    {
        using var m = new TestMachine();
        const uint fnA = 0x101000, fnB = 0x101100, target = 0x101200;
        m.Assemble(fnA, a =>
        {
            a.add(esi, 1);
            a.ret();
        });
        m.Assemble(fnB, a =>
        {
            a.add(esi, 10);
            a.ret();
        });
        m.Assemble(target, a =>
        {
            a.add(esi, 100);
            a.hlt();
        });
        m.Memory.Write32(0x9000, fnB);
        m.Memory.Write32(0x9004, target);
        m.Load(a =>
        {
            a.xor(esi, esi);
            a.mov(eax, fnA);
            a.call(eax);
            a.call(__dword_ptr[0x9000]);
            a.mov(ebx, 0x9004);
            a.jmp(__dword_ptr[ebx]);
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(MiniHv.Cpu.StopReason.Halted));
        Assert.That(m.Cpu.Esi, Is.EqualTo(111u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
    }

    [TestCase(0u, 10u)]
    [TestCase(1u, 20u)]
    [TestCase(2u, 30u)]
    public void JumpTable_IndexedByScaledRegister_SelectsTheCase(uint index, uint expected)
    {
        using var m = new TestMachine();
        uint[] cases = { 0x101000, 0x101100, 0x101200 };
        for (int k = 0; k < cases.Length; k++)
        {
            uint value = (uint)(k + 1) * 10;
            m.Assemble(cases[k], a =>
            {
                a.mov(eax, value);
                a.hlt();
            });
            m.Memory.Write32(0x9000 + ((uint)k * 4), cases[k]);
        }

        m.Load(a =>
        {
            a.mov(ecx, index);
            a.jmp(__dword_ptr[ecx * 4 + 0x9000]);
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(MiniHv.Cpu.StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(expected));
    }

    [Test]
    public void RecursiveCalls_UnwindTheStackExactly()
    {
        // factorial(10) by recursion: exercises many CALL/RET pairs through the same blocks.
        using var m = Exec.Code(a =>
        {
            var fact = a.CreateLabel();
            var baseCase = a.CreateLabel();
            var end = a.CreateLabel();
            a.push(10);
            a.call(fact);
            a.add(esp, 4);
            a.jmp(end);
            a.Label(ref fact);
            a.mov(ecx, __dword_ptr[esp + 4]);
            a.cmp(ecx, 1);
            a.jbe(baseCase);
            a.dec(ecx);
            a.push(ecx);
            a.call(fact);
            a.add(esp, 4);
            a.imul(eax, __dword_ptr[esp + 4]);
            a.ret();
            a.Label(ref baseCase);
            a.mov(eax, 1);
            a.ret();
            a.Label(ref end);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(3628800u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
    }

    [Test]
    public void SixteenBitCallAndRet_PushAndPopAWordAndTruncateEip()
    {
        // Operand-size prefixed near CALL/RET: a 2-byte return address, EIP limited to 16 bits.
        using var m = new TestMachine();
        const uint code = 0x6000, fn = 0x6100;
        m.Assemble(fn, a =>
        {
            a.mov(ebx, esp);
            a.movzx(edx, __word_ptr[esp]);
            a.db(0x66, 0xC3);           // retw
        });
        m.Load(a =>
        {
            a.db(0x66, 0xE8);           // callw rel16 to fn
            a.dw((ushort)(fn - (code + 4)));
            a.mov(ecx, esp);
            a.hlt();
        }, code);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(MiniHv.Cpu.StopReason.Halted));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x80000u - 2), "a word was pushed");
        Assert.That(m.Cpu.Edx, Is.EqualTo(code + 4), "the return address is the 16-bit IP after the call");
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x80000u), "retw popped a word");
    }

    [Test]
    public void RetImm16_WithOperandSizePrefix_PopsAWordThenReleases()
    {
        using var m = new TestMachine();
        const uint code = 0x6000;
        m.Load(a =>
        {
            a.push(0);                  // four bytes of arguments
            a.db(0x66, 0x68);           // pushw imm16: return target
            a.dw((ushort)(code + 0x20));
            a.db(0x66, 0xC2, 4, 0);     // retw 4
        }, code);
        m.Assemble(code + 0x20, a =>
        {
            a.mov(eax, esp);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(MiniHv.Cpu.StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80000u));
    }

    [Test]
    public void NearJumps_Rel8AndRel32_BothReachTheirTargets()
    {
        using var m = Exec.Code(a =>
        {
            var far = a.CreateLabel();
            var near = a.CreateLabel();
            a.xor(eax, eax);
            a.jmp(near);                // short
            a.mov(eax, 0xBAD);
            a.Label(ref near);
            a.inc(eax);
            a.db(0xE9, 0x00, 0x01, 0x00, 0x00); // jmp rel32 +0x100
            for (int i = 0; i < 0x100; i++)
                a.nop();
            a.Label(ref far);
            a.inc(eax);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(2u));
    }

    [Test]
    public void MultiByteNopsPauseAndEndbr32_ExecuteAsNops()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 5);
            a.db(0x0F, 0x1F, 0x00);                         // nop dword [eax]
            a.db(0x0F, 0x1F, 0x44, 0x00, 0x00);             // nop dword [eax+eax*1+0]
            a.db(0x66, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0); // nopw [eax+eax*1+0]
            a.db(0x66, 0x90);                               // xchg ax, ax
            a.db(0xF3, 0x90);                               // pause
            a.db(0xF3, 0x0F, 0x1E, 0xFB);                   // endbr32
            a.db(0x8D, 0x76, 0x00);                         // lea esi, [esi+0]
            a.inc(eax);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(6u));
    }

    [Test]
    public void RepRet_AsGccEmitsIt_Returns()
    {
        using var m = Exec.Code(a =>
        {
            var fn = a.CreateLabel();
            var end = a.CreateLabel();
            a.call(fn);
            a.jmp(end);
            a.Label(ref fn);
            a.mov(eax, 7);
            a.db(0xF3, 0xC3);           // rep ret
            a.Label(ref end);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(7u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
    }
}

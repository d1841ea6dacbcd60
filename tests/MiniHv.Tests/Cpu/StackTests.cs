using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>PUSH/POP in all forms, PUSHA/POPA, PUSHF/POPF with the IOPL and IF rules, ENTER/LEAVE, CBW/CWDE/CWD/CDQ.</summary>
public class StackTests
{
    private const uint Top = 0x80000;

    [Test]
    public void PushAndPop_RegisterImmediateAndMemory_MoveDwordsThroughTheStack()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11111111);
            a.mov(__dword_ptr[0x9000], 0x33333333);
            a.push(eax);
            a.push(0x22222222);
            a.push(-1);                 // imm8, sign-extended to a dword
            a.push(__dword_ptr[0x9000]);
            a.mov(esi, esp);
            a.pop(__dword_ptr[0x9004]);
            a.pop(ebx);
            a.pop(ecx);
            a.pop(edx);
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(Top - 16));
        Assert.That(m.Memory.Read32(Top - 4), Is.EqualTo(0x11111111u));
        Assert.That(m.Memory.Read32(Top - 8), Is.EqualTo(0x22222222u));
        Assert.That(m.Memory.Read32(Top - 12), Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(0x33333333u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x22222222u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x11111111u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void PushEsp_PushesTheValueBeforeTheDecrement()
    {
        using var m = Exec.Code(a => a.push(esp));
        Assert.That(m.Memory.Read32(Top - 4), Is.EqualTo(Top));
    }

    [Test]
    public void PopEsp_LoadsThePoppedValue()
    {
        using var m = Exec.Code(a =>
        {
            a.push(0x12340);
            a.pop(esp);
        });
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x12340u));
    }

    [Test]
    public void PopToMemoryAddressedByEsp_UsesTheIncrementedEsp()
    {
        using var m = Exec.Code(a =>
        {
            a.push(0xBBBBBBBB);
            a.push(0xAAAAAAAA);
            a.pop(__dword_ptr[esp]);    // writes 0xAAAAAAAA over 0xBBBBBBBB
        });
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top - 4));
        Assert.That(m.Memory.Read32(Top - 4), Is.EqualTo(0xAAAAAAAAu));
    }

    [Test]
    public void SixteenBitPushAndPop_MoveWords_AndLeaveUpperHalves()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA1234);
            a.mov(ebx, 0xBBBBBBBB);
            a.push(ax);
            a.db(0x66, 0x6A, 0xFE);     // pushw -2 (imm8)
            a.mov(esi, esp);
            a.pop(bx);
            a.pop(__word_ptr[0x9000]);
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(Top - 4));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xBBBBFFFEu));
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0x1234u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void PushAndPopSegmentRegisters_CarryTheSelector()
    {
        using var m = new TestMachine();
        _ = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.push(ds);
            a.mov(ebx, __dword_ptr[esp]);
            a.push(cs);
            a.pop(eax);
            a.pop(fs);
            a.mov(ecx, 0);
            a.mov(cx, fs);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx & 0xFFFF, Is.EqualTo((uint)SystemTables.KernelData));
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo((uint)SystemTables.KernelCode));
        Assert.That(m.Cpu.Ecx, Is.EqualTo((uint)SystemTables.KernelData));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void Pushad_PushesTheEightRegistersWithTheOriginalEsp_AndPopadSkipsEsp()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 1);
            a.mov(ecx, 2);
            a.mov(edx, 3);
            a.mov(ebx, 4);
            a.mov(ebp, 6);
            a.mov(esi, 7);
            a.mov(edi, 8);
            a.pushad();
            a.mov(__dword_ptr[esp + 12], 0x55555);  // the saved ESP: POPAD must ignore it
            a.mov(__dword_ptr[esp + 28], 0x11);     // the saved EAX
            a.xor(eax, eax);
            a.xor(ecx, ecx);
            a.xor(edi, edi);
            a.popad();
        });
        uint[] expected = { 8, 7, 6, Top, 4, 3, 2, 0x11 }; // EDI at the lowest address
        for (int k = 0; k < 8; k++)
            Assert.That(m.Memory.Read32(Top - 32 + ((uint)k * 4)), Is.EqualTo(k == 3 ? 0x55555u : expected[k]), $"slot {k}");
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x11u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(2u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(8u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void Pushaw_PushesWords_AndPopawRestoresLowHalves()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA0001);
            a.mov(edi, 0xBBBB0008);
            a.pusha();
            a.mov(eax, 0x12345678);
            a.mov(edi, 0x87654321);
            a.popa();
        });
        Assert.That(m.Memory.Read16(Top - 2), Is.EqualTo((ushort)0x0001));
        Assert.That(m.Memory.Read16(Top - 16), Is.EqualTo((ushort)0x0008));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12340001u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x87650008u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void Pushfd_StoresBit1Set_AndPopfdRestoresArithmeticFlags()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xFFFFFFFF);
            a.add(eax, 1);              // CF ZF AF PF
            a.pushfd();
            a.mov(ebx, __dword_ptr[esp]);
            a.xor(ecx, ecx);
            a.inc(ecx);                 // changes ZF
            a.popfd();
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x2u | CF | ZF | AF | PF));
        Assert.That(m.Cpu.Eflags & Exec.ArithFlags, Is.EqualTo(CF | ZF | AF | PF));
    }

    [Test]
    public void Popfd_AtCpl0_ChangesIoplIfAndDf_AndIgnoresReservedBits()
    {
        using var m = Exec.Code(a =>
        {
            a.push(0xFFFFFFFF & ~TF);   // everything but the trap flag
            a.popfd();
            a.pushfd();
            a.pop(eax);
            a.push(0);
            a.popfd();
            a.pushfd();
            a.pop(ebx);
        });

        // Bits 3, 5, 15 and 22-31 are reserved (0); bit 1 is 1; RF and VM are never pushed.
        uint writable = CF | PF | AF | ZF | SF | IF | DF | OF | IOPL | NT | AC | ID;
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x2u | writable));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x2u));
    }

    [Test]
    public void Popf16_ChangesOnlyTheLowWord()
    {
        using var m = Exec.Code(a =>
        {
            a.SetFlags(0x2 | AC);
            a.db(0x66, 0x6A, 0x01);     // pushw 1 (CF)
            a.popf();
        });
        Assert.That(m.Cpu.Eflags & (AC | CF), Is.EqualTo(AC | CF));
    }

    [Test]
    public void IdFlag_CanBeToggled_SoSoftwareFindsCpuid()
    {
        using var m = Exec.Code(a =>
        {
            a.pushfd();
            a.pop(eax);
            a.mov(ecx, eax);
            a.xor(eax, ID);
            a.push(eax);
            a.popfd();
            a.pushfd();
            a.pop(eax);
            a.xor(eax, ecx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(ID));
    }

    /// <summary>Run <paramref name="user"/> at CPL 3 with the given EFLAGS; it ends with INT 0x80 (a DPL 3 gate to a HLT stub).</summary>
    private static (TestMachine M, SystemTables T) RunUser(uint eflags, Action<Assembler> user)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        m.Assemble(0x400000, a =>
        {
            user(a);
            a.@int(0x80);
        });
        t.EnterUserMode(0x400000, 0x7F000);
        m.Cpu.Eflags = eflags;
        var stop = m.Cpu.Run(1000);
        t.AssertHaltedIn(0x80, stop);
        return (m, t);
    }

    [Test]
    public void Popfd_AtCpl3WithIopl0_SilentlyKeepsIfAndIopl_ButChangesTheRest()
    {
        var (m, t) = RunUser(0x2 | IF, a =>
        {
            a.push(0x2 | IOPL | DF | CF | OF);    // tries to clear IF and raise IOPL
            a.popfd();
            a.pushfd();
            a.pop(eax);
        });
        using (m)
        {
            Assert.That(m.Cpu.Eax & (IF | IOPL | DF | CF | OF), Is.EqualTo(IF | DF | CF | OF));
            Assert.That(t.Stack(2) & (IF | IOPL), Is.EqualTo(IF), "the EFLAGS pushed by INT");
        }
    }

    [Test]
    public void Popfd_AtCpl3WithIopl3_ChangesIf_ButNotIopl()
    {
        var (m, _) = RunUser(0x2 | IF | IOPL, a =>
        {
            a.push(0x2);                           // IF clear, IOPL 0
            a.popfd();
            a.pushfd();
            a.pop(eax);
        });
        using (m)
            Assert.That(m.Cpu.Eax & (IF | IOPL), Is.EqualTo(IOPL));
    }

    [Test]
    public void CliAndSti_AtCpl3_RaiseGeneralProtection_WhenIoplIsBelow3()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Assemble(0x400000, a => a.cli());
        t.EnterUserMode(0x400000, 0x7F000);
        m.Cpu.Eflags = 0x2 | IF;
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u), "error code");
        Assert.That(t.Stack(1), Is.EqualTo(0x400000u), "faulting EIP");
        Assert.That(t.Stack(3) & IF, Is.EqualTo(IF), "IF still set");
    }

    [Test]
    public void Cli_AtCpl3WithIopl3_IsAllowed()
    {
        var (m, t) = RunUser(0x2 | IF | IOPL, a => a.cli());
        using (m)
            Assert.That(t.Stack(2) & IF, Is.EqualTo(0u));
    }

    [Test]
    public void EnterAndLeave_BuildAndTearDownAFrame()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebp, 0x12345678);
            a.enter(16, 0);
            a.mov(esi, ebp);
            a.mov(edi, esp);
            a.leave();
        });
        Assert.That(m.Cpu.Esi, Is.EqualTo(Top - 4));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Top - 4 - 16));
        Assert.That(m.Memory.Read32(Top - 4), Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top));
    }

    [Test]
    public void EnterWithNestingLevel_CopiesTheEnclosingFramePointers()
    {
        using var m = Exec.Code(a =>
        {
            // An outer frame at level 1, then an inner one at level 2 that displays it.
            a.mov(ebp, 0xEEEE0000);
            a.enter(8, 1);              // push ebp; push frame; ebp = frame; esp -= 8
            a.mov(esi, ebp);
            a.enter(4, 2);              // push ebp; push [ebp-4]; push frame; esp -= 4
            a.mov(edi, ebp);
        });
        uint outer = Top - 4;
        Assert.That(m.Cpu.Esi, Is.EqualTo(outer));
        Assert.That(m.Memory.Read32(Top - 4), Is.EqualTo(0xEEEE0000u));
        Assert.That(m.Memory.Read32(Top - 8), Is.EqualTo(outer), "level 1 pushes its own frame pointer");

        uint inner = outer - 4 - 8 - 4;
        Assert.That(m.Cpu.Edi, Is.EqualTo(inner));
        Assert.That(m.Memory.Read32(inner), Is.EqualTo(outer), "saved EBP");
        Assert.That(m.Memory.Read32(inner - 4), Is.EqualTo(outer), "display entry copied from [EBP-4] of the outer frame");
        Assert.That(m.Memory.Read32(inner - 8), Is.EqualTo(inner), "the new frame pointer");
        Assert.That(m.Cpu.Esp, Is.EqualTo(inner - 8 - 4));
    }

    [Test]
    public void ConvertInstructions_SignExtendTheAccumulator()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345680);
            a.cbw();                    // AX = 0xFF80
            a.mov(ebx, eax);
            a.mov(eax, 0x12348000);
            a.cwde();                   // EAX = 0xFFFF8000
            a.mov(ecx, eax);
            a.mov(eax, 0x00008000);
            a.mov(edx, 0x55555555);
            a.cwd();                    // DX = 0xFFFF
            a.mov(esi, edx);
            a.mov(eax, 0x80000000);
            a.cdq();
            a.mov(edi, edx);
            a.mov(eax, 0x7FFFFFFF);
            a.cdq();
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1234FF80u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFF8000u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x5555FFFFu));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0u));
    }

    [Test]
    public void Leave_WhoseSavedFramePointerIsUnmapped_FaultsWithEspUnchanged()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        m.Load(a =>
        {
            a.mov(ebp, 0x800000);       // not mapped
            a.leave();
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(m.Cpu.Esp, Is.EqualTo(Top - 16), "the #PF frame went below the unchanged ESP");
        Assert.That(t.Stack(1), Is.EqualTo(TestMachine.CodeBase + 5), "EIP of the LEAVE");
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x800000u));
    }

    [Test]
    public void Popad_CrossingIntoAnUnmappedPage_FaultsWithEveryRegisterUnchanged()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.SetPte(0x80000, 0);
        m.Load(a =>
        {
            a.mov(esp, 0x7FFF0);        // 16 bytes below the unmapped page: EBX and up lie in it
            a.mov(edi, 0x1111);
            a.mov(esi, 0x2222);
            a.mov(ebp, 0x3333);
            a.popad();
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x80000u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x1111u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x2222u));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x3333u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x7FFF0u - 16));
    }
}

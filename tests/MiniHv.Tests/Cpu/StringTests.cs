using System.Text;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS with REP/REPE/REPNE, ECX=0, DF=1, 16-bit address size and segment overrides.</summary>
public class StringTests
{
    private const uint Src = 0x9000, Dst = 0xA000;

    private static void Fill(TestMachine m, uint address, string text) => m.Memory.Write(address, Encoding.ASCII.GetBytes(text));

    private static string ReadText(TestMachine m, uint address, int length)
    {
        var bytes = new byte[length];
        for (int k = 0; k < length; k++)
            bytes[k] = m.Memory.Read8(address + (uint)k);
        return Encoding.ASCII.GetString(bytes);
    }

    [Test]
    public void RepMovsb_CopiesEcxBytesForward_AndAdvancesTheIndexRegisters()
    {
        using var m = new TestMachine();
        Fill(m, Src, "hello, world");
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, 12);
            a.cld();
            a.rep.movsb();
            a.hlt();
        });
        Assert.That(ReadText(m, Dst, 12), Is.EqualTo("hello, world"));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 12));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 12));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0u));
    }

    [Test]
    public void RepMovsd_CopiesDwords()
    {
        using var m = new TestMachine();
        for (uint k = 0; k < 8; k++)
            m.Memory.Write32(Src + (k * 4), 0x1000 + k);
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, 8);
            a.rep.movsd();
            a.hlt();
        });
        for (uint k = 0; k < 8; k++)
            Assert.That(m.Memory.Read32(Dst + (k * 4)), Is.EqualTo(0x1000 + k));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 32));
    }

    [Test]
    public void RepMovs_WithDirectionFlagSet_CopiesBackward()
    {
        using var m = new TestMachine();
        Fill(m, Src, "abcdef");
        m.Run(a =>
        {
            a.mov(esi, Src + 5);
            a.mov(edi, Dst + 5);
            a.mov(ecx, 6);
            a.std();
            a.rep.movsb();
            a.mov(esi, Src + 4);        // overlapping move one byte up, done backward
            a.mov(edi, Src + 5);
            a.mov(ecx, 5);
            a.rep.movsb();
            a.hlt();
        });
        Assert.That(ReadText(m, Dst, 6), Is.EqualTo("abcdef"));
        Assert.That(ReadText(m, Src, 6), Is.EqualTo("aabcde"));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src - 1));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Src));
    }

    [Test]
    public void RepWithEcxZero_DoesNothing_AndLeavesFlags()
    {
        using var m = new TestMachine();
        Fill(m, Src, "xyz");
        Fill(m, Dst, "abc");
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.xor(ecx, ecx);
            a.stc();
            a.rep.movsb();
            a.rep.stosd();
            a.repe.cmpsb();
            a.repne.scasb();
            a.hlt();
        });
        Assert.That(ReadText(m, Dst, 3), Is.EqualTo("abc"));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst));
        Assert.That(m.Cpu.Eflags & (CF | ZF | PF), Is.EqualTo(CF | ZF | PF), "flags of the XOR and STC");
    }

    [Test]
    public void RepStos_FillsWithAlAxOrEax()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11223344);
            a.mov(edi, Dst);
            a.mov(ecx, 3);
            a.rep.stosd();
            a.mov(ecx, 2);
            a.rep.stosw();
            a.mov(ecx, 1);
            a.rep.stosb();
            a.stosb();
        });
        Assert.That(m.Memory.Read32(Dst), Is.EqualTo(0x11223344u));
        Assert.That(m.Memory.Read32(Dst + 8), Is.EqualTo(0x11223344u));
        Assert.That(m.Memory.Read32(Dst + 12), Is.EqualTo(0x33443344u));
        Assert.That(m.Memory.Read16(Dst + 16), Is.EqualTo((ushort)0x4444));
        Assert.That(m.Memory.Read8(Dst + 18), Is.EqualTo((byte)0));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 18));
    }

    [Test]
    public void Lods_LoadsAndAdvances_InBothDirections()
    {
        using var m = new TestMachine();
        m.Memory.Write32(Src, 0x44332211);
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(eax, 0xFFFFFFFF);
            a.lodsb();
            a.mov(ebx, eax);
            a.lodsw();
            a.mov(ecx, eax);
            a.std();
            a.lodsb();
            a.hlt();
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFFFF11u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFF3322u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xFFFF3344u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 2));
    }

    [Test]
    public void RepeCmpsb_StopsAfterTheFirstDifference_WithFlagsOfThatCompare()
    {
        using var m = new TestMachine();
        Fill(m, Src, "abcdXf");
        Fill(m, Dst, "abcdef");
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, 6);
            a.repe.cmpsb();
            a.hlt();
        });
        Assert.That(m.Cpu.Ecx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 5));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 5));

        // 'X' (0x58) - 'e' (0x65): borrow, negative, not zero.
        Assert.That(m.Cpu.Eflags & (CF | ZF | SF), Is.EqualTo(CF | SF));
    }

    [Test]
    public void RepeCmps_OverEqualStrings_RunsToEcxZero_WithZfSet()
    {
        using var m = new TestMachine();
        Fill(m, Src, "samesame");
        Fill(m, Dst, "samesame");
        m.Run(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, 2);
            a.repe.cmpsd();
            a.hlt();
        });
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0u));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(ZF));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 8));
    }

    [Test]
    public void RepneScasb_FindsTheTerminator_AsStrlenDoes()
    {
        using var m = new TestMachine();
        Fill(m, Dst, "seventeen chars!!\0junk");
        m.Run(a =>
        {
            a.mov(edi, Dst);
            a.xor(eax, eax);
            a.mov(ecx, -1);
            a.repne.scasb();
            a.SaveFlags(ebx);
            a.not(ecx);
            a.dec(ecx);
            a.hlt();
        });
        Assert.That(m.Cpu.Ecx, Is.EqualTo(17u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 18));
        Assert.That(m.Cpu.Ebx & ZF, Is.EqualTo(ZF));
    }

    [Test]
    public void RepeScasw_StopsAtTheFirstWordNotEqualToAx()
    {
        using var m = new TestMachine();
        m.Memory.Write32(Dst, 0x77777777);
        m.Memory.Write32(Dst + 4, 0x12347777);
        m.Run(a =>
        {
            a.mov(edi, Dst);
            a.mov(eax, 0x7777);
            a.mov(ecx, 10);
            a.repe.scasw();
            a.hlt();
        });
        Assert.That(m.Cpu.Ecx, Is.EqualTo(6u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 8));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(0u));
    }

    [Test]
    public void AddressSize16_RepMovsb_UsesSiDiCx_AndWrapsAt64K()
    {
        using var m = new TestMachine();
        m.Memory.Write32(0xFFFE, 0x44332211);           // bytes at 0xFFFE, 0xFFFF, 0x10000, 0x10001
        m.Memory.Write8(0x0000, 0xAA);
        m.Run(a =>
        {
            a.mov(esi, 0x1234FFFE);                      // SI = 0xFFFE
            a.mov(edi, 0x5678A000);                      // DI = 0xA000
            a.mov(ecx, 0xABCD0003);                      // CX = 3
            a.db(0x67, 0xF3, 0xA4);                      // a16 rep movsb
            a.hlt();
        });

        // SI runs 0xFFFE, 0xFFFF, then wraps to 0x0000.
        Assert.That(m.Memory.Read8(Dst), Is.EqualTo((byte)0x11));
        Assert.That(m.Memory.Read8(Dst + 1), Is.EqualTo((byte)0x22));
        Assert.That(m.Memory.Read8(Dst + 2), Is.EqualTo((byte)0xAA));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x12340001u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x5678A003u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xABCD0000u));
    }

    [Test]
    public void AddressSize16_StosbWithDirectionDown_WrapsDiBelowZero()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x5A);
            a.mov(edi, 0x00010001);                      // DI = 1
            a.mov(ecx, 3);
            a.std();
            a.db(0x67, 0xF3, 0xAA);                      // a16 rep stosb: DI 1, 0, 0xFFFF
        });
        Assert.That(m.Memory.Read8(1), Is.EqualTo((byte)0x5A));
        Assert.That(m.Memory.Read8(0), Is.EqualTo((byte)0x5A));
        Assert.That(m.Memory.Read8(0xFFFF), Is.EqualTo((byte)0x5A));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x0001FFFEu));
    }

    [Test]
    public void MovsWithFsOverride_ReadsThroughFsBase_AndWritesThroughEs()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(6, Desc.Segment(0x300000, 0xFFFFF, 0x92));
        Fill(m, 0x300000 + Src, "from fs");
        Fill(m, Src, "from ds");
        m.Run(a =>
        {
            a.mov(eax, 0x30);
            a.mov(fs, ax);
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, 7);
            a.db(0xF3, 0x64, 0xA4);     // rep movsb es:[edi], fs:[esi]
            a.hlt();
        });
        Assert.That(ReadText(m, Dst, 7), Is.EqualTo("from fs"));
    }

    [Test]
    public void RepOutsbAndRepInsw_MoveDataBetweenMemoryAndAPort()
    {
        using var m = new TestMachine();
        Fill(m, Src, "OK!");
        m.Io.Inputs[0x60] = 0xBEEF;
        m.Run(a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(esi, Src);
            a.mov(ecx, 3);
            a.rep.outsb();
            a.mov(dx, 0x60);
            a.mov(edi, Dst);
            a.mov(ecx, 2);
            a.rep.insw();
            a.hlt();
        });
        Assert.That(m.Io.Outs, Is.EqualTo(new[] { ((ushort)0x3F8, 1, (uint)'O'), ((ushort)0x3F8, 1, (uint)'K'), ((ushort)0x3F8, 1, (uint)'!') }));
        Assert.That(m.Memory.Read32(Dst), Is.EqualTo(0xBEEFBEEFu));
        Assert.That(m.Cpu.Edi, Is.EqualTo(Dst + 4));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 3));
    }

    [Test]
    public void RepMovsd_AcrossAFaultingPage_StopsWithRegistersPointingAtTheFaultingElement()
    {
        // REP MOVS is restartable: after each element ESI, EDI and ECX are updated, so a page fault
        // part-way leaves them at the element that faulted.
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(0x400000, 0x400000, PageTables.P | PageTables.RW);
        m.Load(a =>
        {
            a.mov(esi, Src);
            a.mov(edi, 0x400FF8);       // two dwords fit, the third lands on the unmapped page
            a.mov(ecx, 4);
            a.rep.movsd();
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x401000u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(2u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 8));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x401000u));
        Assert.That(t.Stack(1), Is.EqualTo(TestMachine.CodeBase + 15), "EIP of the REP MOVSD");
    }

    // ---- Long REP instructions give control back -----------------------------------------

    [Test]
    public void RepStosdWithAHugeCountOverAHole_ReturnsWithinTheBudget_ReadyToCarryOn()
    {
        // Far above the 16 MiB of RAM every store vanishes and none faults: four billion iterations, unless the
        // instruction gives the loop its turn now and then, as a real REP lets interrupts in between iterations.
        using var m = new TestMachine();
        m.Load(a =>
        {
            a.rep.stosd();
            a.hlt();
        });
        m.Cpu.Edi = 0x8000_0000;
        m.Cpu.Ecx = 0xFFFF_FFFF;

        Assert.That(Exec.RunWithin(m, 10, TimeSpan.FromSeconds(10)), Is.EqualTo(StopReason.Budget));
        uint done = 0xFFFF_FFFF - m.Cpu.Ecx;
        Assert.That(done, Is.InRange(1u, 1u << 20), "some iterations, not four billion");
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x8000_0000 + (done * 4)));
        Assert.That(m.Cpu.Eip, Is.EqualTo(TestMachine.CodeBase), "at the REP STOSD, to carry on where it stopped");

        Assert.That(Exec.RunWithin(m, 10, TimeSpan.FromSeconds(10)), Is.EqualTo(StopReason.Budget));
        Assert.That(0xFFFF_FFFF - m.Cpu.Ecx, Is.GreaterThan(done), "the next run carries on");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RepMovsbOfAHundredKilobytes_CopiesEveryByte_InEitherDirection(bool down)
    {
        const int Length = 100_000;
        const uint From = 0x200000, To = 0x400000;
        using var m = new TestMachine();
        var bytes = new byte[Length];
        new Random(7).NextBytes(bytes);
        m.Memory.Write(From, bytes);
        m.Run(a =>
        {
            a.mov(esi, down ? From + Length - 1 : From);
            a.mov(edi, down ? To + Length - 1 : To);
            a.mov(ecx, Length);
            if (down)
                a.std();
            a.rep.movsb();
            a.hlt();
        });
        Assert.That(m.Cpu.IsHalted, Is.True);
        Assert.That(m.Cpu.Ecx, Is.Zero);
        Assert.That(m.Cpu.Edi, Is.EqualTo(down ? To - 1 : To + Length));
        var copy = new byte[Length];
        for (int k = 0; k < Length; k++)
            copy[k] = m.Memory.Read8(To + (uint)k);
        Assert.That(copy, Is.EqualTo(bytes));
    }

    [Test]
    public void RepOutsb_WhoseOutputRaisesAnInterrupt_TakesItBeforeTheNextElement_WithEipAtTheRep()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        Fill(m, Src, "abcde");
        m.Io.OnOut = (_, _) =>
        {
            if (m.Io.Outs.Count == 1)
                pic.Pending.Enqueue(0x40);
        };
        m.Cpu.Esi = Src;
        m.Cpu.Ecx = 5;
        m.Cpu.Edx = 0x3F8;
        m.Cpu.Eflags = 0x2 | IF;
        StopReason stop = m.Run(a =>
        {
            a.rep.outsb();
            a.hlt();
        });
        t.AssertHaltedIn(0x40, stop);
        Assert.That(m.Io.Outs, Has.Count.EqualTo(1));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(4u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(Src + 1));
        Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase), "the interrupt returns to the REP OUTSB");
    }

    [Test]
    public void RepOutsb_WhoseOutputAsksTheCpuToStop_StopsAfterThatElement()
    {
        // The debug-exit port stops the machine from its write: the rest of the string must not go out first.
        using var m = new TestMachine();
        Fill(m, Src, "abcde");
        m.Io.OnOut = (_, _) => m.Cpu.RequestStop();
        m.Cpu.Esi = Src;
        m.Cpu.Ecx = 5;
        m.Cpu.Edx = 0xF4;
        StopReason stop = m.Run(a =>
        {
            a.rep.outsb();
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.StopRequested));
        Assert.That(m.Io.Outs, Has.Count.EqualTo(1));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(4u));
        Assert.That(m.Cpu.Eip, Is.EqualTo(TestMachine.CodeBase));
    }

    [Test]
    public void RepOutsb_SpendsOneInstructionOfBudgetPerElement()
    {
        // A port access can cost the host microseconds (a device model runs): a quantum of N instructions must not
        // hide N thousand of them.
        using var m = new TestMachine();
        m.Load(a =>
        {
            a.rep.outsb();
            a.hlt();
        });
        m.Cpu.Esi = Src;
        m.Cpu.Ecx = 100;
        m.Cpu.Edx = 0x71;
        Assert.That(m.Cpu.Run(10), Is.EqualTo(StopReason.Budget));
        Assert.That(m.Io.Outs, Has.Count.EqualTo(10));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(90u));
        Assert.That(m.Cpu.Run(1000), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Io.Outs, Has.Count.EqualTo(100));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(101), "one per element, and the HLT");
    }
}

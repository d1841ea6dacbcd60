using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>MOV forms, MOVZX/MOVSX, LEA, XCHG, CMPXCHG, XADD, BSWAP, CMPXCHG8B, LAHF/SAHF, XLAT, and 16-bit operand and address sizes.</summary>
public class DataMoveTests
{
    [Test]
    public void MovOfEachSize_WritesOnlyItsPartOfTheRegister()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11223344);
            a.mov(al, 0xAA);
            a.mov(ebx, 0x11223344);
            a.mov(bh, 0xBB);
            a.mov(ecx, 0x11223344);
            a.mov(cx, 0xCCCC);
            a.mov(edx, 0x11223344);
            a.mov(dh, al);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x112233AAu));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1122BB44u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x1122CCCCu));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x1122AA44u));
    }

    [Test]
    public void MovToMemory_OfEachSize_WritesOnlyThoseBytes()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 0x11223344);
            a.mov(__dword_ptr[0x9004], 0x11223344);
            a.mov(__byte_ptr[0x9001], 0xAA);
            a.mov(__word_ptr[0x9006], 0xBBCC);
            a.mov(eax, 0x55667788);
            a.mov(__dword_ptr[0x9008], eax);        // moffs form (A3)
            a.mov(ebx, __dword_ptr[0x9000]);        // moffs form (A1)
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0x1122AA44u));
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(0xBBCC3344u));
        Assert.That(m.Memory.Read32(0x9008), Is.EqualTo(0x55667788u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1122AA44u));
    }

    [Test]
    public void UnalignedAndPageCrossingAccesses_ReadAndWriteEveryByte()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9FFE], 0xA1B2C3D4);
            a.mov(eax, __dword_ptr[0x9FFE]);
            a.mov(__word_ptr[0xAFFF], 0x1234);
            a.movzx(ebx, __word_ptr[0xAFFF]);
        });
        Assert.That(m.Memory.Read16(0x9FFE), Is.EqualTo((ushort)0xC3D4));
        Assert.That(m.Memory.Read16(0xA000), Is.EqualTo((ushort)0xA1B2));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xA1B2C3D4u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1234u));
    }

    [Test]
    public void MovzxAndMovsx_ExtendBytesAndWords()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 0x80C0FF80);
            a.movzx(eax, __byte_ptr[0x9000]);       // 0x80
            a.movsx(ebx, __byte_ptr[0x9000]);       // 0xFFFFFF80
            a.movzx(ecx, __word_ptr[0x9002]);       // 0x80C0
            a.movsx(edx, __word_ptr[0x9002]);       // 0xFFFF80C0
            a.movsx(edi, __byte_ptr[0x9001]);       // 0xFFFFFFFF
            a.mov(ebp, 0xAAAA0000);
            a.movsx(bp, __byte_ptr[0x9000]);        // 16-bit destination keeps the upper half
            a.mov(esi, 0x1234ABCD);
            a.movzx(esi, si);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFFFF80u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x80C0u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xFFFF80C0u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0xAAAAFF80u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0xABCDu));
    }

    [Test]
    public void MovzxAndMovsx_FromHighByteRegisters()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x0000F000);
            a.movzx(eax, bh);
            a.movsx(ecx, bh);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xF0u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFFFFF0u));
    }

    [Test]
    public void Lea_ComputesAddressesWithoutTouchingMemoryOrFlags()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x1000);
            a.mov(ecx, 3);
            a.stc();
            a.lea(eax, __[ebx + ecx * 8 + 0x10]);
            a.lea(edx, __[ecx + ecx * 4]);
            a.lea(esi, __[ebx - 1]);
            a.mov(edi, 0xFFFF0000);
            a.lea(di, __[ebx + ecx * 2 + 0x7000]);  // 16-bit destination: truncated
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x1028u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(15u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0xFFFu));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0xFFFF8006u));
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(CF));
    }

    [Test]
    public void SixteenBitAddressing_AddsBaseAndIndex_AndWrapsAt64K()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x1234 + 0x10], 0xCAFE);
            a.mov(__dword_ptr[0x0001], 0xBEEF);
            a.mov(ebx, 0x1000);
            a.mov(esi, 0x0234);
            a.mov(eax, __dword_ptr[bx + si + 0x10]);
            a.mov(ebx, 0xFFFF);
            a.mov(edi, 0x0002);
            a.mov(ecx, __dword_ptr[bx + di]);       // 0xFFFF + 2 wraps to 0x0001
            a.mov(ebx, 0xABCD0100);
            a.mov(edx, __dword_ptr[bx - 0xFF]);     // upper half of EBX ignored: 0x0001
            a.lea(ebp, __[bx + di + 0x10]);         // LEA with 16-bit addressing
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xCAFEu));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xBEEFu));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xBEEFu));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x0112u));
    }

    [Test]
    public void SixteenBitOperands_InAluAndMemory_LeaveUpperHalves()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA0001);
            a.mov(ebx, 0xBBBB0002);
            a.add(ax, bx);
            a.mov(__dword_ptr[0x9000], 0x11112222);
            a.add(__word_ptr[0x9000], 0x10);
            a.mov(cx, __word_ptr[0x9002]);
            a.xchg(ax, cx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA1111u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x00000003u));
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0x11112232u));
    }

    [Test]
    public void Xchg_SwapsRegistersAndMemory_InEverySize()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11111111);
            a.mov(ebx, 0x22222222);
            a.xchg(eax, ebx);
            a.mov(__dword_ptr[0x9000], 0x33333333);
            a.mov(ecx, 0x44444444);
            a.xchg(__dword_ptr[0x9000], ecx);
            a.mov(edx, 0x0000AABB);
            a.xchg(dl, dh);
            a.mov(esi, 0x55);
            a.xchg(__dword_ptr[0x9000], esi);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x22222222u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x11111111u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x33333333u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x0000BBAAu));
        Assert.That(m.Cpu.Esi, Is.EqualTo(0x44444444u));
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0x55u));
    }

    [Test]
    public void Cmpxchg_WhenEqual_StoresTheSourceAndSetsZf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 5);
            a.mov(eax, 5);
            a.mov(ecx, 9);
            a.@lock.cmpxchg(__dword_ptr[0x9000], ecx);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(9u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(5u));
        Assert.That(m.Cpu.Eflags & Exec.ArithFlags, Is.EqualTo(ZF | PF));
    }

    [Test]
    public void Cmpxchg_WhenDifferent_LoadsTheAccumulator_AndSetsFlagsOfTheCompare()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 7);
            a.mov(eax, 5);
            a.mov(ecx, 9);
            a.cmpxchg(__dword_ptr[0x9000], ecx);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(7u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(7u));

        // The flags of CMP EAX(5), 7: borrow, negative.
        Assert.That(Exec.Names(m.Cpu.Eflags & Exec.ArithFlags), Is.EqualTo(Exec.Names(CF | SF | AF)));
    }

    [Test]
    public void Cmpxchg8_OnRegisters_ComparesAl()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345680);
            a.mov(ebx, 0x00000080);
            a.mov(ecx, 0x00000011);
            a.cmpxchg(bl, cl);          // AL == BL: BL = CL
            a.SaveFlags(esi);
            a.mov(edx, 0x00000022);
            a.cmpxchg(dl, cl);          // AL != DL: AL = DL
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x11u));
        Assert.That(m.Cpu.Esi & ZF, Is.EqualTo(ZF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345622u));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(0u));
    }

    [Test]
    public void Xadd_ExchangesAndAdds_WithAddFlags()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 0xFFFFFFFF);
            a.mov(ecx, 1);
            a.@lock.xadd(__dword_ptr[0x9000], ecx);
            a.SaveFlags(esi);
            a.mov(eax, 3);
            a.mov(ebx, 4);
            a.xadd(eax, ebx);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFFFFFFu));
        Assert.That(m.Cpu.Esi & Exec.ArithFlags, Is.EqualTo(CF | ZF | AF | PF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(7u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(3u));
    }

    [Test]
    public void Bswap_ReversesTheBytes()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11223344);
            a.bswap(eax);
            a.mov(edi, 0x80000001);
            a.bswap(edi);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x44332211u));
        Assert.That(m.Cpu.Edi, Is.EqualTo(0x01000080u));
    }

    [Test]
    public void Cmpxchg8b_WhenEqual_StoresEcxEbx_AndSetsZf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 0x11111111);
            a.mov(__dword_ptr[0x9004], 0x22222222);
            a.mov(eax, 0x11111111);
            a.mov(edx, 0x22222222);
            a.mov(ebx, 0x33333333);
            a.mov(ecx, 0x44444444);
            a.@lock.cmpxchg8b(__qword_ptr[0x9000]);
        });
        Assert.That(m.Memory.Read64(0x9000), Is.EqualTo(0x4444444433333333ul));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(ZF));
    }

    [Test]
    public void Cmpxchg8b_WhenDifferent_LoadsEdxEax_AndClearsZf_LeavingOtherFlags()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9000], 0x11111111);
            a.mov(__dword_ptr[0x9004], 0x22222222);
            a.mov(eax, 0x11111111);
            a.mov(edx, 0);
            a.mov(ebx, 0x33333333);
            a.mov(ecx, 0x44444444);
            a.SetFlags(0x2 | CF | ZF | SF);
            a.cmpxchg8b(__qword_ptr[0x9000]);
        });
        Assert.That(m.Memory.Read64(0x9000), Is.EqualTo(0x2222222211111111ul));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x11111111u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x22222222u));
        Assert.That(m.Cpu.Eflags & (CF | ZF | SF), Is.EqualTo(CF | SF));
    }

    [Test]
    public void LahfAndSahf_MoveTheLowFlagsThroughAh()
    {
        using var m = Exec.Code(a =>
        {
            a.SetFlags(0x2 | CF | ZF | SF | OF);
            a.lahf();
            a.mov(ebx, eax);
            a.mov(eax, (AF | PF) << 8);
            a.sahf();
        });
        Assert.That((m.Cpu.Ebx >> 8) & 0xFF, Is.EqualTo(0x2u | CF | ZF | SF));
        Assert.That(m.Cpu.Eflags & Exec.ArithFlags, Is.EqualTo(AF | PF | OF), "SAHF leaves OF");
    }

    [Test]
    public void Xlat_LooksUpAlInTheTableAtEbx()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x9080], 0x44332211);
            a.mov(ebx, 0x9000);
            a.mov(eax, 0xAAAA0081);
            a.xlatb();
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA0022u));
    }

    [Test]
    public void MovFromSegmentRegister_ToMemoryWritesAWord_AndToARegisterZeroExtends()
    {
        using var m = new TestMachine();
        _ = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(__dword_ptr[0x9000], 0xFFFFFFFF);
            a.mov(__word_ptr[0x9000], ds);
            a.mov(eax, 0xFFFFFFFF);
            a.mov(eax, ss);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0xFFFF0000u | SystemTables.KernelData));
        Assert.That(m.Cpu.Eax, Is.EqualTo((uint)SystemTables.KernelData));
    }

    [Test]
    public void XaddToAReadOnlyPage_Faults_AndLeavesTheSourceRegister()
    {
        // The fault must be restartable: the handler sees the old register, and after the kernel
        // makes the page writable the XADD runs again with the same operands.
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(0x400000, 0x400000, PageTables.P);  // present, read-only
        m.Memory.Write32(0x400000, 10);
        m.Load(a =>
        {
            a.mov(ecx, 5);
            a.xadd(__dword_ptr[0x400000], ecx);
            a.hlt();
        });
        pt.Enable(wp: true);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(m.Cpu.Ecx, Is.EqualTo(5u));
        Assert.That(m.Memory.Read32(0x400000), Is.EqualTo(10u));
    }

    [TestCase("adc")]
    [TestCase("sbb")]
    [TestCase("add8")]
    [TestCase("add32")]
    [TestCase("neg")]
    [TestCase("inc")]
    [TestCase("rcl")]
    [TestCase("shl")]
    [TestCase("shld")]
    [TestCase("bts")]
    [TestCase("cmpxchg")]
    [TestCase("xadd")]
    public void ReadModifyWriteToAReadOnlyPage_Faults_WithFlagsAndRegistersAsBefore(string op)
    {
        // A store that faults must leave EFLAGS as they were: the handler sees them pushed, and
        // ADC/SBB/RCL restarted after a copy-on-write must use the original carry.
        const uint start = 0x2 | CF | PF | SF;
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(0x400000, 0x400000, PageTables.P);
        m.Memory.Write32(0x400000, 0x80000001);
        m.Load(a =>
        {
            a.mov(eax, 0x7FFFFFFF);
            a.mov(ecx, 3);
            a.SetFlags(start);
            var mem = __dword_ptr[0x400000];
            switch (op)
            {
                case "adc": a.adc(mem, eax); break;
                case "sbb": a.sbb(mem, eax); break;
                case "add8": a.add(__byte_ptr[0x400000], 0x7F); break;
                case "add32": a.add(mem, eax); break;
                case "neg": a.neg(mem); break;
                case "inc": a.inc(mem); break;
                case "rcl": a.rcl(mem, 1); break;
                case "shl": a.shl(mem, cl); break;
                case "shld": a.shld(mem, eax, 4); break;
                case "bts": a.bts(mem, ecx); break;
                case "cmpxchg": a.cmpxchg(mem, ecx); break;
                default: a.xadd(mem, ecx); break;
            }

            a.hlt();
        });
        pt.Enable(wp: true);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(3u), "present, write");
        Assert.That(Exec.Names(t.Stack(3) & Exec.ArithFlags), Is.EqualTo(Exec.Names(start & Exec.ArithFlags)), "pushed EFLAGS");
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x7FFFFFFFu));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(3u));
        Assert.That(m.Memory.Read32(0x400000), Is.EqualTo(0x80000001u));
    }
}

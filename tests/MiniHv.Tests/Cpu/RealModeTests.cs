using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// Real-address mode as a boot sector meets it: segment:offset addressing, the vector table, far transfers,
/// the way into protected mode and back, A20, and a clear stop where a BIOS service would have been.
/// </summary>
public class RealModeTests
{
    private const ushort BootIp = 0x7C00;

    /// <summary>A machine in the state a BIOS hands a boot sector, with <paramref name="code"/> (16-bit) at 0000:7C00.</summary>
    private static TestMachine Boot(Action<Assembler> code, uint at = BootIp)
    {
        var m = new TestMachine();
        m.Assemble(at, code, bitness: 16);
        m.Cpu.ResetReal(0, BootIp, 0x7C00);
        return m;
    }

    private static void AssertHalted(TestMachine m, StopReason stop)
        => Assert.That(stop, Is.EqualTo(StopReason.Halted),
            () => $"stopped at {m.Cpu.GetSegment(SegReg.CS).Selector:x4}:{m.Cpu.Eip:x4}: {m.Cpu.UnsupportedReason} {m.Cpu.LastFault}");

    [Test]
    public void BootState_IsRealModeAt0000_7C00_With64KiBSegmentsAndTheVectorTableAt0()
    {
        using var m = Boot(a => a.hlt());
        Assert.Multiple(() =>
        {
            Assert.That(m.Cpu.RealMode, Is.True);
            Assert.That(m.Cpu.Cr0 & CR0_PE, Is.Zero);
            Assert.That(m.Cpu.GetSegment(SegReg.CS).Base, Is.Zero);
            Assert.That(m.Cpu.GetSegment(SegReg.CS).Limit, Is.EqualTo(0xFFFFu));
            Assert.That(m.Cpu.GetSegment(SegReg.CS).Big, Is.False);
            Assert.That(m.Cpu.Eip, Is.EqualTo((uint)BootIp));
            Assert.That(m.Cpu.Idtr.Base, Is.Zero);
            Assert.That(m.Cpu.Idtr.Limit, Is.EqualTo(0x3FFu));
            Assert.That(m.Cpu.Eflags & IF, Is.Zero);
            Assert.That(m.Cpu.Cpl, Is.Zero);
        });
        AssertHalted(m, m.Cpu.Run(10));
    }

    [Test]
    public void SegmentLoad_SetsTheBaseToSixteenTimesTheSelector_AndWordOperandsAreTheDefault()
    {
        using var m = Boot(a =>
        {
            a.mov(ax, 0x1234);
            a.mov(ds, ax);
            a.mov(__word_ptr[0x10], 0xBEEF);     // 0x12340 + 0x10
            a.mov(ebx, 0x11111111);              // needs a 66 prefix in 16-bit code
            a.mov(bx, 0x2222);
            a.hlt();
        });
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Memory.Read16(0x12350), Is.EqualTo(0xBEEF));
        Assert.That(m.Cpu.GetSegment(SegReg.DS).Base, Is.EqualTo(0x12340u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x11112222u));
    }

    [Test]
    public void SegmentCpl_StaysZero_WhateverTheLowBitsOfCs()
    {
        using var m = new TestMachine();
        m.Assemble(0x12330 + 0x10, a =>
        {
            a.mov(ax, cs);
            a.hlt();
        }, bitness: 16);
        m.Cpu.ResetReal(0x1233, 0x10, 0x7C00);
        AssertHalted(m, m.Cpu.Run(10));
        Assert.That(m.Cpu.Cpl, Is.Zero);
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0x1233u));
    }

    [Test]
    public void OffsetPastTheSegmentLimit_RaisesGp_ThroughTheVectorTable()
    {
        using var m = Boot(a =>
        {
            a.mov(bx, 0xFFFF);
            a.mov(ax, __word_ptr[bx]);           // bytes 0xFFFF and 0x10000: past the 64 KiB limit
            a.hlt();
        });
        m.Assemble(0x8000, a => a.hlt(), bitness: 16);
        m.Memory.Write32(13 * 4, 0x0000_8000);   // #GP handler at 0000:8000
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Cpu.Eip, Is.EqualTo(0x8001u));
        Assert.That(m.Memory.Read16(0x7C00 - 6), Is.EqualTo(BootIp + 3), "IP of the faulting MOV, no error code");
    }

    [Test]
    public void IntN_GoesThroughTheVectorTable_WithIfClear_AndIretComesBack()
    {
        using var m = Boot(a =>
        {
            a.sti();
            a.mov(ax, 1);
            a.@int(0x60);
            a.mov(cx, 3);
            a.hlt();
        });
        // Handler at 1000:0020: record FLAGS as pushed and IF now, then IRET.
        m.Assemble(0x10020, a =>
        {
            a.mov(bp, sp);
            a.mov(dx, __word_ptr.ss[bp + 4]);    // the FLAGS the INT pushed
            a.pushf();
            a.pop(si);
            a.add(ax, 1);
            a.iret();
        }, bitness: 16);
        m.Memory.Write32(0x60 * 4, 0x1000_0020);
        AssertHalted(m, m.Cpu.Run(100));
        Assert.Multiple(() =>
        {
            Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(2u), "the handler ran");
            Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(3u), "IRET came back after the INT");
            Assert.That(m.Cpu.Edx & IF, Is.EqualTo(IF), "the pushed FLAGS had IF");
            Assert.That(m.Cpu.Esi & IF, Is.Zero, "the handler runs with IF clear");
            Assert.That(m.Cpu.Eflags & IF, Is.EqualTo(IF), "IRET restored IF");
            Assert.That(m.Cpu.GetSegment(SegReg.CS).Selector, Is.Zero);
            Assert.That(m.Cpu.Esp & 0xFFFF, Is.EqualTo(0x7C00u));
        });
    }

    [Test]
    public void Int13_WithNoVectorSet_StopsTheGuest_SayingThereIsNoBios()
    {
        using var m = Boot(a =>
        {
            a.mov(ax, 0x0201);                   // AH=2: read sectors, as a boot sector asks a BIOS
            a.@int(0x13);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Unsupported));
        Assert.That(m.Cpu.UnsupportedReason, Does.StartWith("no BIOS: int 0x13 (disk services, AH=0x02) at 0000:7c03"));
        Assert.That(m.Cpu.Eip, Is.EqualTo(0x7C03u), "EIP names the INT");
    }

    [Test]
    public void HardwareInterrupt_InRealMode_IsDeliveredThroughTheVectorTable()
    {
        using var m = Boot(a =>
        {
            a.sti();
            a.hlt();
            a.mov(cx, 7);
            a.hlt();
        });
        m.Assemble(0x9000, a =>
        {
            a.mov(ax, 0x55);
            a.iret();
        }, bitness: 16);
        m.Memory.Write32(0x08 * 4, 0x0900_0000); // vector 8 (an unremapped PIC's IRQ 0) at 0900:0000
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        pic.Pending.Enqueue(0x08);
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0x55u));
        Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(7u));
    }

    [Test]
    public void HardwareInterrupt_WithNoVectorSet_StopsTheGuest()
    {
        using var m = Boot(a =>
        {
            a.sti();
            a.hlt();
        });
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        pic.Pending.Enqueue(0x08);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Unsupported));
        Assert.That(m.Cpu.UnsupportedReason, Does.StartWith("no BIOS: hardware interrupt on vector 0x08 in real mode"));
    }

    [Test]
    public void FarCallAndRetf_InRealMode_PushAndPopCsAndIp()
    {
        using var m = Boot(a =>
        {
            a.db(0x9A);                          // call far 2000:0005
            a.dw(0x0005);
            a.dw(0x2000);
            a.mov(cx, 9);
            a.hlt();
        });
        m.Assemble(0x20005, a =>
        {
            a.mov(ax, cs);
            a.retf();
        }, bitness: 16);
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0x2000u));
        Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(9u));
        Assert.That(m.Memory.Read16(0x7C00 - 2), Is.EqualTo(0x0000), "CS pushed first");
        Assert.That(m.Memory.Read16(0x7C00 - 4), Is.EqualTo(BootIp + 5), "then the return IP");
    }

    [Test]
    public void ProtectedModeSwitch_LgdtSetPeAndFarJump_Enters32BitCode_AndBackToRealMode()
    {
        using var m = new TestMachine();
        // GDT at 0x600: null, 32-bit flat code, 32-bit flat data, 16-bit code and data at base 0 with 64 KiB.
        m.Memory.Write64(0x608, Desc.FlatCode(0));
        m.Memory.Write64(0x610, Desc.FlatData(0));
        m.Memory.Write64(0x618, Desc.Segment(0, 0xFFFF, 0x9A, 0x0));
        m.Memory.Write64(0x620, Desc.Segment(0, 0xFFFF, 0x92, 0x0));
        m.Memory.Write16(0x6F0, 0x27);           // the GDT pseudo-descriptor: limit, 24-bit base
        m.Memory.Write32(0x6F2, 0xFF00_0600);    // the high byte is ignored with a 16-bit operand size
        m.Assemble(BootIp, a =>
        {
            a.cli();
            a.lgdt(__[0x6F0]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.db(0x66, 0xEA);                    // jmp far 0008:00008000 (32-bit offset)
            a.dd(0x8000);
            a.dw(0x0008);
        }, bitness: 16);
        m.Assemble(0x8000, a =>
        {
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(esp, 0x9000);
            a.mov(__dword_ptr[0x200000], 0x32323232); // above 1 MiB: A20 is open
            a.mov(ebx, cr0);
            a.db(0xEA);                          // jmp far 0018:8100: 16-bit protected mode
            a.dd(0x8100);
            a.dw(0x0018);
        });
        m.Assemble(0x8100, a =>
        {
            a.mov(ax, 0x20);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(eax, cr0);
            a.and(eax, ~1);
            a.mov(cr0, eax);
            a.db(0xEA);                          // jmp far 0880:0000 = 0x8800, in real mode
            a.dw(0x0000);
            a.dw(0x0880);
        }, bitness: 16);
        m.Assemble(0x8800, a =>
        {
            a.mov(ax, 0x0100);
            a.mov(ds, ax);
            a.mov(__word_ptr[0x20], 0x1616);     // 0x1000 + 0x20
            a.mov(cx, cs);
            a.hlt();
        }, bitness: 16);
        m.Cpu.ResetReal(0, BootIp, 0x7C00);
        AssertHalted(m, m.Cpu.Run(1000));
        Assert.Multiple(() =>
        {
            Assert.That(m.Memory.Read32(0x200000), Is.EqualTo(0x32323232u));
            Assert.That(m.Cpu.Ebx & CR0_PE, Is.EqualTo(CR0_PE));
            Assert.That(m.Cpu.Gdtr.Base, Is.EqualTo(0x600u), "24-bit base");
            Assert.That(m.Memory.Read16(0x1020), Is.EqualTo(0x1616));
            Assert.That(m.Cpu.RealMode, Is.True);
            Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(0x0880u));
            Assert.That(m.Cpu.GetSegment(SegReg.CS).Base, Is.EqualTo(0x8800u));
        });
    }

    [Test]
    public void BackToRealMode_DataSegmentsKeepTheirProtectedModeLimit_UntilOnlyTheBaseIsReloaded()
    {
        using var m = new TestMachine();
        m.Memory.Write64(0x608, Desc.Segment(0, 0xFFFF, 0x9A, 0x0));   // 16-bit code
        m.Memory.Write64(0x610, Desc.FlatData(0));                     // 4 GiB data
        m.Memory.Write16(0x6F0, 0x17);
        m.Memory.Write32(0x6F2, 0x600);
        m.Assemble(BootIp, a =>
        {
            a.lgdt(__[0x6F0]);
            a.mov(eax, cr0);
            a.or(al, 1);
            a.mov(cr0, eax);
            a.mov(bx, 0x10);
            a.mov(fs, bx);                       // FS: 4 GiB limit in its cache
            a.and(al, 0xFE);
            a.mov(cr0, eax);                     // back to real mode, CS still the 16-bit code at base 0
            a.xor(bx, bx);
            a.mov(fs, bx);                       // base 0, the limit stays: "unreal mode"
            a.mov(edi, 0x300000);
            a.mov(__dword_ptr.fs[edi], 0x0BADCAFE);
            a.hlt();
        }, bitness: 16);
        m.Cpu.ResetReal(0, BootIp, 0x7C00);
        AssertHalted(m, m.Cpu.Run(1000));
        Assert.That(m.Memory.Read32(0x300000), Is.EqualTo(0x0BADCAFEu));
    }

    [Test]
    public void A20Closed_WrapsAddressesAt1MiB_AndOpening_ReachesTheMemoryAbove()
    {
        using var m = Boot(a =>
        {
            a.mov(ax, 0xFFFF);
            a.mov(es, ax);
            a.mov(__word_ptr.es[0x10], 0x2020);  // FFFF:0010 = 0x100000, or 0 with A20 closed
            a.hlt();
        });
        m.Cpu.A20Enabled = false;
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Memory.Read16(0x0), Is.EqualTo(0x2020), "wrapped to 0");
        Assert.That(m.Memory.Read16(0x100000), Is.Zero);

        m.Cpu.A20Enabled = true;
        m.Cpu.Eip = BootIp;
        m.Cpu.Wake();
        m.Memory.Write16(0, 0);
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Memory.Read16(0x100000), Is.EqualTo(0x2020));
        Assert.That(m.Memory.Read16(0x0), Is.Zero);
    }

    [Test]
    public void A20Closed_MasksPhysicalAddressesInProtectedModeToo()
    {
        using var m = new TestMachine();
        m.Memory.Write32(0x200008, 0x77);
        m.Load(a =>
        {
            a.mov(__dword_ptr[0x100004], 0x44444444);   // reaches 0x000004
            a.mov(eax, __dword_ptr[0x300008]);          // 0x300008 has bit 20 set: reads 0x200008
            a.hlt();
        }, address: 0x8000);
        m.Cpu.A20Enabled = false;
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Memory.Read32(0x4), Is.EqualTo(0x44444444u));
        Assert.That(m.Memory.Read32(0x100004), Is.Zero);
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x77u));
    }

    [Test]
    public void Lmsw_CanSetProtectionEnable_FromRealMode_ButNeverClearIt()
    {
        using var m = Boot(a =>
        {
            a.mov(ax, 0);
            a.lmsw(ax);                          // PE stays clear
            a.smsw(bx);
            a.mov(ax, 1);
            a.lmsw(ax);                          // into protected mode
            a.smsw(cx);
            a.mov(ax, 0);
            a.lmsw(ax);                          // cannot leave it
            a.smsw(dx);
            a.hlt();
        });
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Cpu.Ebx & 1, Is.Zero);
        Assert.That(m.Cpu.Ecx & 1, Is.EqualTo(1u));
        Assert.That(m.Cpu.Edx & 1, Is.EqualTo(1u));
    }

    [Test]
    public void Lldt_InRealMode_IsUndefined()
    {
        using var m = Boot(a =>
        {
            a.xor(ax, ax);
            a.lldt(ax);
            a.hlt();
        });
        m.Assemble(0x8000, a => a.hlt(), bitness: 16);
        m.Memory.Write32(Vectors.UD * 4, 0x0000_8000);
        AssertHalted(m, m.Cpu.Run(100));
        Assert.That(m.Cpu.Eip, Is.EqualTo(0x8001u));
    }
}

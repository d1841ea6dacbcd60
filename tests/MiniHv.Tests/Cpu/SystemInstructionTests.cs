using System.Text;
using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>CPUID, RDTSC, descriptor-table registers, LLDT/LTR, control and debug registers, INVLPG and privilege checks.</summary>
public class SystemInstructionTests
{
    [Test]
    public void Cpuid0_ReportsGenuineIntel_AndLeaf1AsTheHighestLeaf()
    {
        using var m = Exec.Code(a =>
        {
            a.xor(eax, eax);
            a.cpuid();
        });
        var vendor = new byte[12];
        BitConverter.GetBytes(m.Cpu.Ebx).CopyTo(vendor, 0);
        BitConverter.GetBytes(m.Cpu.Edx).CopyTo(vendor, 4);
        BitConverter.GetBytes(m.Cpu.Ecx).CopyTo(vendor, 8);
        Assert.That(Encoding.ASCII.GetString(vendor), Is.EqualTo("GenuineIntel"));
        Assert.That(m.Cpu.Eax, Is.GreaterThanOrEqualTo(1u));
    }

    [Test]
    public void Cpuid1_DescribesAFamily5ProcessorWithFpuTscMsrCx8AndCmov_ButNoMmxOrSse()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 1);
            a.cpuid();
        });
        uint edx = m.Cpu.Edx;
        Assert.That((m.Cpu.Eax >> 8) & 0xF, Is.EqualTo(5u), "family");
        Assert.That(edx & (1u << 4), Is.Not.Zero, "TSC");
        Assert.That(edx & (1u << 5), Is.Not.Zero, "MSR: RDMSR and WRMSR");
        Assert.That(edx & (1u << 8), Is.Not.Zero, "CX8");
        Assert.That(edx & (1u << 15), Is.Not.Zero, "CMOV");
        Assert.That(edx & (1u << 0), Is.Not.Zero, "FPU");
        Assert.That(edx & (1u << 23), Is.Zero, "MMX");
        Assert.That(edx & (1u << 24), Is.Zero, "FXSR");
        Assert.That(edx & (1u << 25), Is.Zero, "SSE");
        Assert.That(edx & (1u << 26), Is.Zero, "SSE2");
        Assert.That(m.Cpu.Ecx, Is.Zero, "no SSE3 or later");
    }

    [Test]
    public void Rdtsc_Increases_BetweenTwoReadsInTheSameStraightLineCode()
    {
        using var m = Exec.Code(a =>
        {
            a.nop();
            a.rdtsc();
            a.mov(ebx, eax);
            a.mov(ecx, edx);
            a.nop();
            a.nop();
            a.rdtsc();
        });
        ulong first = ((ulong)m.Cpu.Ecx << 32) | m.Cpu.Ebx;
        ulong second = ((ulong)m.Cpu.Edx << 32) | m.Cpu.Eax;
        Assert.That(second, Is.GreaterThan(first));
    }

    [Test]
    public void Rdtsc_AtCpl3WithCr4Tsd_RaisesGeneralProtection()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Assemble(0x400000, a => a.rdtsc());
        t.EnterUserMode(0x400000, 0x7F000);
        m.Cpu.Cr4 = 1u << 2;
        var stop = m.Cpu.Run(10);
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u));
    }

    [Test]
    public void LgdtAndLidt_LoadTheTableRegisters_AndSgdtSidtStoreThemBack()
    {
        using var m = new TestMachine();
        m.Memory.Write16(0x9000, 0x17);
        m.Memory.Write32(0x9002, 0x00012340);
        m.Memory.Write16(0x9008, 0x7FF);
        m.Memory.Write32(0x900A, 0x00045600);
        m.Run(a =>
        {
            a.lgdt(__fword_ptr[0x9000]);
            a.lidt(__fword_ptr[0x9008]);
            a.sgdt(__fword_ptr[0x9010]);
            a.sidt(__fword_ptr[0x9018]);
            a.hlt();
        });
        Assert.That(m.Cpu.Gdtr.Base, Is.EqualTo(0x12340u));
        Assert.That(m.Cpu.Gdtr.Limit, Is.EqualTo(0x17u));
        Assert.That(m.Cpu.Idtr.Base, Is.EqualTo(0x45600u));
        Assert.That(m.Cpu.Idtr.Limit, Is.EqualTo(0x7FFu));
        Assert.That(m.Memory.Read16(0x9010), Is.EqualTo((ushort)0x17));
        Assert.That(m.Memory.Read32(0x9012), Is.EqualTo(0x12340u));
        Assert.That(m.Memory.Read16(0x9018), Is.EqualTo((ushort)0x7FF));
        Assert.That(m.Memory.Read32(0x901A), Is.EqualTo(0x45600u));
    }

    private static (TestMachine M, SystemTables T, StopReason Stop) RunUser(Action<Assembler> user, Action<TestMachine, SystemTables>? setup = null)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        setup?.Invoke(m, t);
        m.Assemble(0x400000, a =>
        {
            user(a);
            a.@int(0x80);
        });
        t.EnterUserMode(0x400000, 0x7F000);
        return (m, t, m.Cpu.Run(1000));
    }

    [Test]
    public void SgdtSidtSldtStrAndSmsw_AreAllowedAtCpl3()
    {
        var (m, t, stop) = RunUser(a =>
        {
            a.sgdt(__fword_ptr[0x9000]);
            a.sidt(__fword_ptr[0x9008]);
            a.str(bx);
            a.smsw(cx);
        });
        using (m)
        {
            t.AssertHaltedIn(0x80, stop);
            Assert.That(m.Memory.Read32(0x9002), Is.EqualTo(SystemTables.GdtBase));
            Assert.That(m.Memory.Read32(0x900A), Is.EqualTo(SystemTables.IdtBase));
            Assert.That(m.Cpu.Ebx & 0xFFFF, Is.EqualTo((uint)SystemTables.TssSelector));
            Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(m.Cpu.Cr0 & 0xFFFF));
        }
    }

    [TestCase("lgdt")]
    [TestCase("lidt")]
    [TestCase("lldt")]
    [TestCase("ltr")]
    [TestCase("movcr0")]
    [TestCase("movfromcr3")]
    [TestCase("movdr7")]
    [TestCase("invlpg")]
    [TestCase("hlt")]
    [TestCase("clts")]
    [TestCase("wbinvd")]
    [TestCase("lmsw")]
    public void PrivilegedInstructions_AtCpl3_RaiseGeneralProtectionWithErrorCodeZero(string op)
    {
        var (m, t, stop) = RunUser(a =>
        {
            switch (op)
            {
                case "lgdt": a.lgdt(__fword_ptr[0x9000]); break;
                case "lidt": a.lidt(__fword_ptr[0x9000]); break;
                case "lldt": a.lldt(ax); break;
                case "ltr": a.ltr(ax); break;
                case "movcr0": a.mov(cr0, eax); break;
                case "movfromcr3": a.mov(eax, cr3); break;
                case "movdr7": a.mov(dr7, eax); break;
                case "invlpg": a.invlpg(__[0x9000]); break;
                case "hlt": a.hlt(); break;
                case "clts": a.clts(); break;
                case "wbinvd": a.wbinvd(); break;
                default: a.lmsw(ax); break;
            }
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0u), "error code");
            Assert.That(t.Stack(1), Is.EqualTo(0x400000u), "the faulting instruction");
            Assert.That(t.Stack(2), Is.EqualTo((uint)SystemTables.UserCode));
        }
    }

    [Test]
    public void Ltr_LoadsTheTaskRegister_AndMarksTheTssBusy()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(7, Desc.Segment(0x3100, 0x67, 0x89, 0));
        m.Cpu.Tr = default;
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x38);
            a.ltr(ax);
            a.str(bx);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx & 0xFFFF, Is.EqualTo(0x38u));
        Assert.That(m.Cpu.Tr.Base, Is.EqualTo(0x3100u));
        Assert.That(m.Cpu.Tr.Limit, Is.EqualTo(0x67u));
        Assert.That((t.GetGdt(7) >> 40) & 0xFF, Is.EqualTo(0x8Bul), "busy 32-bit TSS");
    }

    [TestCase(0x8Bu, Vectors.GP)]   // already busy
    [TestCase(0x82u, Vectors.GP)]   // an LDT, not a TSS
    [TestCase(0x92u, Vectors.GP)]   // a data segment
    [TestCase(0x09u, Vectors.NP)]   // available TSS, not present
    public void Ltr_OfAnUnsuitableDescriptor_FaultsWithTheSelector(uint access, int vector)
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(7, Desc.Segment(0x3100, 0x67, (byte)access, 0));
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x3B);           // RPL 3 in the selector: the error code has the index only
            a.ltr(ax);
            a.hlt();
        });
        t.AssertHaltedIn(vector, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0x38u));
    }

    [Test]
    public void Lldt_ThenSegmentLoadWithTableIndicator_ReadsTheLdt()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        const uint ldt = 0x5000;
        t.SetGdt(8, Desc.Segment(ldt, 0xF, 0x82, 0));
        m.Memory.Write64(ldt + 8, Desc.Segment(0x300000, 0xFFFFF, 0x92));
        m.Memory.Write32(0x300010, 0xC0FFEE);
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x40);
            a.lldt(ax);
            a.sldt(cx);
            a.mov(edx, 0x0C);           // index 1, TI = 1
            a.mov(gs, dx);
            a.mov(eax, __dword_ptr.gs[0x10]);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ecx & 0xFFFF, Is.EqualTo(0x40u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xC0FFEEu));
        Assert.That(m.Cpu.GetSegment(SegReg.GS).Base, Is.EqualTo(0x300000u));
    }

    [Test]
    public void Lldt_OfANonLdtDescriptor_RaisesGeneralProtectionWithTheSelector()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(eax, SystemTables.TssSelector);
            a.lldt(ax);
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo((uint)SystemTables.TssSelector));
    }

    [Test]
    public void SegmentLoad_WithTableIndicator_AndNoLdt_RaisesGeneralProtection()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.xor(eax, eax);
            a.lldt(ax);                 // a null LDT
            a.mov(eax, 0x0C);
            a.mov(ds, ax);
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0x0Cu));
    }

    [Test]
    public void MovControlRegisters_WriteAndReadBack()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, cr0);
            a.mov(ebx, 0xDEADB000);
            a.mov(cr2, ebx);
            a.mov(ecx, cr2);
            a.mov(edx, CR4_PSE);
            a.mov(cr4, edx);
            a.mov(esi, cr4);
            a.mov(edi, 0x7000);
            a.mov(cr3, edi);
            a.mov(ebp, cr3);
        });
        Assert.That(m.Cpu.Eax & (CR0_PE | CR0_PG), Is.EqualTo(CR0_PE));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xDEADB000u));
        Assert.That(m.Cpu.Esi, Is.EqualTo(CR4_PSE));
        Assert.That(m.Cpu.Cr4, Is.EqualTo(CR4_PSE));
        Assert.That(m.Cpu.Ebp, Is.EqualTo(0x7000u));
    }

    [TestCase(1u << 20, TestName = "MovToCr4_SettingSmep_RaisesGeneralProtection")]
    [TestCase(1u << 10, TestName = "MovToCr4_SettingOsxmmexcpt_RaisesGeneralProtection")]
    public void MovToCr4_WithAReservedBit_RaisesGeneralProtection(uint bit)
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(eax, bit);            // features this processor does not have
            a.mov(cr4, eax);
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u));
        Assert.That(m.Cpu.Cr4, Is.EqualTo(0u));
    }

    [Test]
    public void MovToCr0_PagingWithoutProtection_RaisesGeneralProtection()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x80000011);     // PG | ET | PE
            a.and(eax, ~1);             // clear PE
            a.mov(cr0, eax);
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u));
        Assert.That(m.Cpu.PagingEnabled, Is.False);
        Assert.That(m.Cpu.UnsupportedReason, Is.Null);
    }

    [Test]
    public void MovToCr1_IsAnInvalidOpcode()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.db(0x0F, 0x22, 0xC8);     // mov cr1, eax
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.UD, stop);
    }

    [Test]
    public void MovDebugRegisters_StoreValues_AndDr6Dr7ReadTheirFixedBits()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345678);
            a.mov(dr0, eax);
            a.mov(ebx, dr0);
            a.xor(eax, eax);
            a.mov(dr6, eax);
            a.mov(dr7, eax);
            a.mov(ecx, dr6);
            a.mov(edx, dr7);
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFF0FF0u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x400u));
    }

    [Test]
    public void Clts_ClearsTaskSwitched_AndLmswCannotClearProtectedMode()
    {
        using var m = new TestMachine();
        m.Cpu.Cr0 |= CR0_TS;
        m.Run(a =>
        {
            a.clts();
            a.mov(eax, cr0);
            a.mov(ebx, 0);              // LMSW 0: PE stays set, MP/EM/TS clear
            a.lmsw(bx);
            a.mov(ecx, cr0);
            a.smsw(edx);
            a.hlt();
        });
        Assert.That(m.Cpu.Eax & CR0_TS, Is.EqualTo(0u));
        Assert.That(m.Cpu.Ecx & CR0_PE, Is.EqualTo(CR0_PE));
        Assert.That(m.Cpu.Edx, Is.EqualTo(m.Cpu.Ecx));
    }

    [Test]
    public void Invlpg_DropsTheCachedTranslationOfThatPage()
    {
        using var m = new TestMachine();
        var pt = new PageTables(m);
        pt.Map(0x400000, 0x500000, PageTables.P | PageTables.RW);
        m.Memory.Write32(0x500000, 0x1111);
        m.Memory.Write32(0x600000, 0x2222);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x400000]);  // caches 0x400000 -> 0x500000
            a.mov(__dword_ptr[pt.PteAddress(0x400000)], 0x600000 | PageTables.P | PageTables.RW);
            a.invlpg(__[0x400000]);
            a.mov(ebx, __dword_ptr[0x400000]);
            a.hlt();
        });
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x1111u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x2222u));
    }

    [Test]
    public void Cr3Reload_DropsCachedTranslations()
    {
        using var m = new TestMachine();
        var pt = new PageTables(m);
        pt.Map(0x400000, 0x500000, PageTables.P | PageTables.RW);
        m.Memory.Write32(0x500000, 0x1111);
        m.Memory.Write32(0x600000, 0x2222);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x400000]);
            a.mov(__dword_ptr[pt.PteAddress(0x400000)], 0x600000 | PageTables.P | PageTables.RW);
            a.mov(ecx, cr3);
            a.mov(cr3, ecx);
            a.mov(ebx, __dword_ptr[0x400000]);
            a.hlt();
        });
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x1111u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x2222u));
    }

    [Test]
    public void WbinvdAndInvd_AtCpl0_AreHarmless()
    {
        using var m = Exec.Code(a =>
        {
            a.wbinvd();
            a.invd();
            a.mov(eax, 1);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(1u));
    }

    [Test]
    public void ApicBaseMsr_ReadsBaseBspAndEnable_WhenTheMachineHasAnApic()
    {
        using var m = new TestMachine();
        m.Cpu.ApicBase = 0xFEE0_0900;
        m.Cpu.FeatureFlags |= FeatureApic;
        var stop = m.Run(a =>
        {
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.mov(esi, eax);
            a.wrmsr();                               // writing back what was read is fine
            a.mov(eax, 1);
            a.cpuid();
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted), () => m.Cpu.UnsupportedReason ?? "");
        Assert.That(m.Cpu.Esi, Is.EqualTo(0xFEE0_0900u));
        Assert.That(m.Cpu.Edx & FeatureApic, Is.EqualTo(FeatureApic), "CPUID.1:EDX.APIC");
    }

    [Test]
    public void ApicBaseMsr_MovingTheApic_StopsTheGuest_AndWithoutAnApicTheMsrIsMissing()
    {
        using (var m = new TestMachine())
        {
            m.Cpu.ApicBase = 0xFEE0_0900;
            var stop = m.Run(a =>
            {
                a.mov(ecx, 0x1B);
                a.mov(eax, 0xFED0_0900);
                a.xor(edx, edx);
                a.wrmsr();
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Unsupported));
            Assert.That(m.Cpu.UnsupportedReason, Does.Contain("IA32_APIC_BASE"));
        }

        using (var m = new TestMachine())
        {
            var t = new SystemTables(m);
            var stop = m.Run(a =>
            {
                a.mov(ecx, 0x1B);
                a.rdmsr();
                a.hlt();
            });
            t.AssertHaltedIn(Vectors.GP, stop);
        }
    }
}

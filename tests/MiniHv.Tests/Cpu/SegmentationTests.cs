using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// Segment bases and overrides, limit and type checks on access, segment-register loads with every
/// descriptor check (#GP/#NP/#SS and their error codes), and far JMP/CALL/RET through a GDT built in memory.
/// </summary>
public class SegmentationTests
{
    private const ushort Test = 0x30;   // GDT index 6, free for each test
    private const ushort Test2 = 0x38;  // GDT index 7

    private static (TestMachine M, SystemTables T, StopReason Stop) RunKernel(Action<SystemTables> setup, Action<Assembler> code)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        setup(t);
        var stop = m.Run(a =>
        {
            code(a);
            a.hlt();
        });
        return (m, t, stop);
    }

    private static void AssertFault((TestMachine M, SystemTables T, StopReason Stop) run, int vector, uint errorCode)
    {
        using var m = run.M;
        run.T.AssertHaltedIn(vector, run.Stop);
        Assert.That(run.T.Stack(0), Is.EqualTo(errorCode), "error code");
    }

    [Test]
    public void FsWithNonZeroBase_OffsetsEveryAccessThroughFs()
    {
        var (m, _, stop) = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFFFF, 0x92)), a =>
        {
            a.mov(eax, Test);
            a.mov(fs, ax);
            a.mov(__dword_ptr.fs[0x100], 0xABCD);
            a.mov(ebx, 0xFC);
            a.mov(ecx, __dword_ptr.fs[ebx + 4]);
            a.mov(__dword_ptr[0x100], 0x1111);      // DS is unaffected
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.Read32(0x300100), Is.EqualTo(0xABCDu));
            Assert.That(m.Cpu.Ecx, Is.EqualTo(0xABCDu));
            Assert.That(m.Memory.Read32(0x100), Is.EqualTo(0x1111u));
            Assert.That(m.Cpu.GetSegment(SegReg.FS).Base, Is.EqualTo(0x300000u));
        }
    }

    [Test]
    public void SegmentOverridePrefixes_EsGsCsSs_EachUseTheirOwnBase()
    {
        var (m, _, stop) = RunKernel(t =>
        {
            t.SetGdt(6, Desc.Segment(0x300000, 0xFFFFF, 0x92));
            t.SetGdt(7, Desc.Segment(0x310000, 0xFFFFF, 0x92));
        }, a =>
        {
            a.mov(eax, Test);
            a.mov(es, ax);
            a.mov(eax, Test2);
            a.mov(gs, ax);
            a.mov(eax, __dword_ptr.es[0x10]);
            a.mov(ebx, __dword_ptr.gs[0x10]);
            a.mov(ecx, __dword_ptr.cs[TestMachine.CodeBase]);
            a.push(0x5555);
            a.mov(edx, __dword_ptr.ss[esp]);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Eax, Is.EqualTo(m.Memory.Read32(0x300010)));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(m.Memory.Read32(0x310010)));
            Assert.That(m.Cpu.Ecx, Is.EqualTo(m.Memory.Read32(TestMachine.CodeBase)));
            Assert.That(m.Cpu.Edx, Is.EqualTo(0x5555u));
        }
    }

    [Test]
    public void ByteGranularLimit_AllowsTheLastByte_AndFaultsOneBeyond()
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFF, 0x92, 0x4)), a =>
        {
            a.mov(eax, Test);
            a.mov(fs, ax);
            a.mov(ebx, __dword_ptr.fs[0xFFC]);
            a.mov(ecx, __dword_ptr.fs[0xFFD]);
        });
        Assert.That(run.M.Cpu.Ebx, Is.EqualTo(0u));
        AssertFault(run, Vectors.GP, 0);
    }

    [Test]
    public void PageGranularLimit_ScalesTheLimitBy4K()
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0x0, 0x92, 0xC)), a =>
        {
            a.mov(eax, Test);
            a.mov(fs, ax);
            a.mov(__dword_ptr.fs[0xFFC], 1);
            a.mov(__byte_ptr.fs[0x1000], 1);
        });
        Assert.That(run.M.Memory.Read32(0x300FFC), Is.EqualTo(1u));
        Assert.That(run.M.Cpu.GetSegment(SegReg.FS).Limit, Is.EqualTo(0xFFFu));
        AssertFault(run, Vectors.GP, 0);
    }

    [Test]
    public void AccessBeyondTheStackSegmentLimit_RaisesStackFault()
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(0, 0xFFFF, 0x92, 0x4)), a =>
        {
            a.mov(eax, Test);
            a.mov(ss, ax);
            a.mov(esp, 0x8000);
            a.mov(ebp, 0xFFFE);
            a.mov(eax, __dword_ptr[ebp]);            // SS is the default segment for EBP
        });
        AssertFault(run, Vectors.SS, 0);
    }

    [Test]
    public void ExpandDownSegment_FaultsAtOrBelowTheLimit_AndAllowsAbove()
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFF, 0x96, 0x4)), a =>
        {
            a.mov(eax, Test);
            a.mov(fs, ax);
            a.mov(__dword_ptr.fs[0x2000], 7);
            a.mov(ebx, __dword_ptr.fs[0x1000]);
            a.mov(ecx, __dword_ptr.fs[0xFFF]);
        });
        Assert.That(run.M.Memory.Read32(0x302000), Is.EqualTo(7u));
        AssertFault(run, Vectors.GP, 0);
    }

    [TestCase(0x300000u)]
    [TestCase(0u)]
    public void ReadOnlyDataSegment_AllowsReads_AndWritesRaiseGp(uint baseAddress)
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(baseAddress, 0xFFFFF, 0x90)), a =>
        {
            a.mov(eax, Test);
            a.mov(ds, ax);
            a.mov(ebx, __dword_ptr[0x9000]);
            a.mov(__dword_ptr[0x9000], ebx);
        });
        Assert.That(run.M.Cpu.Ebx, Is.EqualTo(0u));
        AssertFault(run, Vectors.GP, 0);
    }

    [TestCase(0x300000u)]
    [TestCase(0u)]
    public void ReadableCodeSegmentInDs_AllowsReads_AndWritesRaiseGp(uint baseAddress)
    {
        var run = RunKernel(t => t.SetGdt(6, Desc.Segment(baseAddress, 0xFFFFF, 0x9A)), a =>
        {
            a.mov(eax, Test);
            a.mov(es, ax);
            a.mov(ebx, __dword_ptr.es[0x9000]);
            a.mov(__dword_ptr.es[0x9000], ebx);
        });
        AssertFault(run, Vectors.GP, 0);
    }

    [Test]
    public void NullSelectorInDs_LoadsWithoutFault_ButAnAccessRaisesGpZero()
    {
        var run = RunKernel(_ => { }, a =>
        {
            a.mov(eax, 3);              // null with RPL 3
            a.mov(ds, ax);
            a.mov(ebx, 1);
            a.mov(ecx, __dword_ptr[0x9000]);
        });
        Assert.That(run.M.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(run.M.Cpu.GetSegment(SegReg.DS).IsNull, Is.True);
        AssertFault(run, Vectors.GP, 0);
    }

    [TestCase(0x0000, 0x00, 0x00, Vectors.GP, 0u, TestName = "MovSs_Null_RaisesGpZero")]
    [TestCase(0x0013, 0x00, 0x00, Vectors.GP, 0x10u, TestName = "MovSs_RplNotCpl_RaisesGpWithSelector")]
    [TestCase(0x0020, 0x00, 0x00, Vectors.GP, 0x20u, TestName = "MovSs_DplNotCpl_RaisesGpWithSelector")]
    [TestCase(Test, 0x90, 0xC, Vectors.GP, 0x30u, TestName = "MovSs_ReadOnlyData_RaisesGpWithSelector")]
    [TestCase(Test, 0x9A, 0xC, Vectors.GP, 0x30u, TestName = "MovSs_CodeSegment_RaisesGpWithSelector")]
    [TestCase(Test, 0x12, 0xC, Vectors.SS, 0x30u, TestName = "MovSs_NotPresent_RaisesStackFaultWithSelector")]
    public void MovSs_ChecksTheDescriptor(int selector, int access, int flags, int vector, uint errorCode)
    {
        var run = RunKernel(t =>
        {
            if (access != 0)
                t.SetGdt(6, Desc.Segment(0, 0xFFFFF, (byte)access, (byte)flags));
        }, a =>
        {
            a.mov(eax, selector);
            a.mov(ss, ax);
        });
        AssertFault(run, vector, errorCode);
    }

    [TestCase(0x0013, 0x00, Vectors.GP, 0x10u, TestName = "MovDs_RplAboveDpl_RaisesGpWithSelector")]
    [TestCase(Test, 0x12, Vectors.NP, 0x30u, TestName = "MovDs_NotPresent_RaisesNpWithSelector")]
    [TestCase(0x0028, 0x00, Vectors.GP, 0x28u, TestName = "MovDs_SystemDescriptor_RaisesGpWithSelector")]
    [TestCase(0x0140, 0x00, Vectors.GP, 0x140u, TestName = "MovDs_BeyondTheGdtLimit_RaisesGpWithSelector")]
    [TestCase(Test, 0x98, Vectors.GP, 0x30u, TestName = "MovDs_ExecuteOnlyCode_RaisesGpWithSelector")]
    public void MovDs_ChecksTheDescriptor(int selector, int access, int vector, uint errorCode)
    {
        var run = RunKernel(t =>
        {
            if (access != 0)
                t.SetGdt(6, Desc.Segment(0, 0xFFFFF, (byte)access));
        }, a =>
        {
            a.mov(eax, selector);
            a.mov(ds, ax);
        });
        AssertFault(run, vector, errorCode);
    }

    [Test]
    public void MovCs_IsAnInvalidOpcode()
    {
        var run = RunKernel(_ => { }, a =>
        {
            a.mov(eax, SystemTables.KernelCode);
            a.db(0x8E, 0xC8);           // mov cs, ax
        });
        using var m = run.M;
        run.T.AssertHaltedIn(Vectors.UD, run.Stop);
    }

    [Test]
    public void SegmentLoad_SetsTheAccessedBitInTheDescriptor()
    {
        var (m, t, stop) = RunKernel(t => t.SetGdt(6, Desc.Segment(0, 0xFFFFF, 0x92)), a =>
        {
            a.mov(eax, Test);
            a.mov(gs, ax);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((t.GetGdt(6) >> 40) & 0xFF, Is.EqualTo(0x93ul));
        }
    }

    private static (TestMachine M, SystemTables T, StopReason Stop) RunUser(Action<SystemTables> setup, Action<Assembler> user)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        setup(t);
        m.Assemble(0x400000, a =>
        {
            user(a);
            a.@int(0x80);
        });
        t.EnterUserMode(0x400000, 0x7F000);
        return (m, t, m.Cpu.Run(1000));
    }

    [Test]
    public void MovDs_AtCpl3_OfAKernelDataSegment_RaisesGpWithSelector()
    {
        var run = RunUser(_ => { }, a =>
        {
            a.mov(eax, SystemTables.KernelData | 3);
            a.mov(ds, ax);
        });
        AssertFault(run, Vectors.GP, SystemTables.KernelData);
    }

    [Test]
    public void MovDs_AtCpl3_OfAConformingReadableCodeSegment_IsAllowed()
    {
        var (m, t, stop) = RunUser(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFFFF, 0x9E)), a =>
        {
            a.mov(eax, Test | 3);
            a.mov(es, ax);
            a.mov(ebx, __dword_ptr.es[0]);
        });
        using (m)
        {
            t.AssertHaltedIn(0x80, stop);
            Assert.That(m.Cpu.GetSegment(SegReg.ES).Base, Is.EqualTo(0x300000u));
        }
    }

    [Test]
    public void LfsAndLss_LoadAFarPointer()
    {
        var (m, _, stop) = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFFFF, 0x92)), a =>
        {
            a.mov(__dword_ptr[0x9000], 0x1234);
            a.mov(__word_ptr[0x9004], Test);
            a.mov(__dword_ptr[0x9008], 0x7000);
            a.mov(__word_ptr[0x900C], SystemTables.KernelData);
            a.lfs(ebx, __fword_ptr[0x9000]);
            a.lss(esp, __fword_ptr[0x9008]);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1234u));
            Assert.That(m.Cpu.GetSegment(SegReg.FS).Selector, Is.EqualTo(Test));
            Assert.That(m.Cpu.GetSegment(SegReg.FS).Base, Is.EqualTo(0x300000u));
            Assert.That(m.Cpu.Esp, Is.EqualTo(0x7000u));
        }
    }

    [Test]
    public void FarJmp_ToACodeSegmentWithABase_RunsAtBasePlusOffset()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(6, Desc.Segment(0x200000, 0xFFFFF, 0x9A));
        m.Assemble(0x201000, a =>
        {
            a.mov(eax, 0x1234);
            a.hlt();
        });
        m.Load(a => a.jmp(Test, 0x1000));
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x1234u));
        Assert.That(m.Cpu.Eip, Is.EqualTo(0x1006u));
        Assert.That(m.Cpu.GetSegment(SegReg.CS).Selector, Is.EqualTo(Test));
        Assert.That(m.Cpu.Cpl, Is.EqualTo(0));
    }

    [Test]
    public void FarCall_PushesCsAndEip_AndRetfImm16ReturnsReleasingArguments()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(6, Desc.Segment(0x200000, 0xFFFFF, 0x9A));
        m.Assemble(0x201000, a =>
        {
            a.mov(eax, __dword_ptr[esp]);
            a.mov(ebx, __dword_ptr[esp + 4]);
            a.mov(ecx, __dword_ptr[esp + 8]);
            a.retf(4);
        });
        m.Load(a =>
        {
            a.push(0x77);
            a.call(Test, 0x1000);
            a.mov(edx, esp);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(TestMachine.CodeBase + 2 + 7), "return EIP");
        Assert.That(m.Cpu.Ebx, Is.EqualTo((uint)SystemTables.KernelCode), "return CS");
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x77u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x80000u));
        Assert.That(m.Cpu.GetSegment(SegReg.CS).Selector, Is.EqualTo(SystemTables.KernelCode));
    }

    [Test]
    public void FarJmp_ThroughAMemoryPointer_LoadsCsAndEip()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(6, Desc.Segment(0x200000, 0xFFFFF, 0x9A));
        m.Assemble(0x201000, a =>
        {
            a.mov(eax, 0xFA2);
            a.hlt();
        });
        m.Memory.Write32(0x9000, 0x1000);
        m.Memory.Write16(0x9004, Test);
        m.Load(a => a.jmp(__fword_ptr[0x9000]));
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xFA2u));
        Assert.That(m.Cpu.GetSegment(SegReg.CS).Selector, Is.EqualTo(Test));
    }

    [TestCase((int)SystemTables.KernelData, 0x00, 0u, Vectors.GP, (uint)SystemTables.KernelData, TestName = "FarJmp_ToADataSegment_RaisesGpWithSelector")]
    [TestCase(0, 0x00, 0u, Vectors.GP, 0u, TestName = "FarJmp_ToNull_RaisesGpZero")]
    [TestCase(Test, 0x1A, 0u, Vectors.NP, 0x30u, TestName = "FarJmp_ToANotPresentCodeSegment_RaisesNpWithSelector")]
    [TestCase(0x18, 0x00, 0u, Vectors.GP, 0x18u, TestName = "FarJmp_ToDpl3NonConformingCodeFromCpl0_RaisesGpWithSelector")]
    [TestCase(Test, 0x9A, 0x20000u, Vectors.GP, 0u, TestName = "FarJmp_BeyondTheCodeLimit_RaisesGpZero")]
    public void FarJmp_ChecksTheTarget(int selector, int access, uint offset, int vector, uint errorCode)
    {
        var run = RunKernel(t =>
        {
            if (access != 0)
                t.SetGdt(6, Desc.Segment(0, 0xFFFF, (byte)access, 0x4));
        }, a => a.jmp((ushort)selector, offset));
        AssertFault(run, vector, errorCode);
    }

    [Test]
    public void FarJmp_ToConformingCodeOfHigherDpl_IsNotAllowed_ButOfLowerDplKeepsTheCpl()
    {
        // Conforming code may be entered from CPL >= DPL, and the CPL does not change.
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        t.SetGdt(6, Desc.Segment(0, 0xFFFFF, 0x9E));            // conforming, DPL 0
        m.Assemble(0x401000, a =>
        {
            a.mov(eax, 0xC0);
            a.@int(0x80);
        });
        m.Assemble(0x400000, a => a.jmp(Test | 3, 0x401000));
        t.EnterUserMode(0x400000, 0x7F000);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(0x80, stop);
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xC0u));
        Assert.That(t.Stack(1) & 3, Is.EqualTo(3u), "the pushed CS has RPL = CPL 3");
        Assert.That(t.Stack(4), Is.EqualTo((uint)SystemTables.UserData), "the interrupt switched stacks: it came from ring 3");
    }

    [Test]
    public void Retf_ToAnOuterPrivilege_LoadsSsEsp_AndNullsKernelDataSegments()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        m.Assemble(0x400000, a =>
        {
            a.mov(eax, 0x3333);
            a.@int(0x80);
        });
        m.Load(a =>
        {
            a.push(SystemTables.UserData);
            a.push(0x7F000);
            a.push(SystemTables.UserCode);
            a.push(0x400000);
            a.retf();
        });
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(0x80, stop);
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x3333u));
        Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.UserCode));
        Assert.That(t.Stack(3), Is.EqualTo(0x7F000u), "user ESP");
        Assert.That(t.Stack(4), Is.EqualTo((uint)SystemTables.UserData), "user SS");
        Assert.That(m.Cpu.GetSegment(SegReg.DS).IsNull, Is.True, "DS held a DPL 0 segment");
        Assert.That(m.Cpu.GetSegment(SegReg.ES).IsNull, Is.True);
    }

    [Test]
    public void Retf_ToAMorePrivilegedLevel_RaisesGpWithSelector()
    {
        var run = RunUser(_ => { }, a =>
        {
            a.push(SystemTables.KernelCode);
            a.push(0x100000);
            a.retf();
        });
        AssertFault(run, Vectors.GP, SystemTables.KernelCode);
    }

    [Test]
    public void SixteenBitCodeSegment_RunsWithWordOperandsByDefault()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGdt(6, Desc.Segment(0, 0xFFFF, 0x9A, 0x0));         // 16-bit code, base 0, 64 KiB
        const uint back = TestMachine.CodeBase + 0x100;
        m.Assemble(0x7000, a =>
        {
            a.mov(eax, 0x11111111);     // in 16-bit code: needs the 66 prefix, Iced adds it
            a.mov(ax, 0x2222);          // no prefix here
            a.add(ax, 1);
            a.mov(ebx, __dword_ptr[0x9000]);
            a.db(0x66, 0xEA);           // jmp far ptr16:32 back to 32-bit code
            a.dd(back);
            a.dw(SystemTables.KernelCode);
        }, bitness: 16);
        m.Memory.Write32(0x9000, 0xABCDEF01);
        m.Assemble(back, a =>
        {
            a.mov(ecx, 0x12345678);
            a.hlt();
        });
        m.Load(a => a.jmp(Test, 0x7000));
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x11112223u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xABCDEF01u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.GetSegment(SegReg.CS).Selector, Is.EqualTo(SystemTables.KernelCode));
    }

    [Test]
    public void LarOfASelectorBeyondItsTable_ClearsZf_WithoutAFault()
    {
        var (m, t, stop) = RunKernel(_ => { }, a =>
        {
            a.mov(ecx, 0x7FF8);
            a.mov(eax, 0x1234);
            a.lar(eax, ecx);
            a.SaveFlags(edx);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Edx & MiniHv.Cpu.Cpu.ZF, Is.Zero);
            Assert.That(m.Cpu.Eax, Is.EqualTo(0x1234u), "the destination is left alone");
        }
    }

    [Test]
    public void LarWhoseDescriptorTableIsNotMapped_RaisesThePageFault()
    {
        // The LDT sits on an unmapped page: reading the descriptor faults, and a page fault is delivered,
        // not mistaken for a selector the CPL may not see.
        var (m, t, stop) = RunKernel(t =>
        {
            t.SetGdt(6, Desc.Segment(0x800000, 0xFFF, 0x82, 0));
            var pt = new PageTables(t.Machine);
            pt.Enable();
        }, a =>
        {
            a.mov(ax, Test);
            a.lldt(ax);
            a.mov(ecx, 0x0C | 4);   // LDT entry 1
            a.lar(eax, ecx);
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(m.Cpu.Cr2, Is.EqualTo(0x800008u));
        }
    }

    // Every system descriptor type: LAR reports the TSSs, the LDT, call and task gates; LSL only those with a
    // limit (TSSs and the LDT). Interrupt and trap gates and the reserved types clear ZF for both.
    [TestCase(0x0, false, false)]
    [TestCase(0x1, true, true)]
    [TestCase(0x2, true, true)]
    [TestCase(0x3, true, true)]
    [TestCase(0x4, true, false)]
    [TestCase(0x5, true, false)]
    [TestCase(0x6, false, false)]
    [TestCase(0x7, false, false)]
    [TestCase(0x8, false, false)]
    [TestCase(0x9, true, true)]
    [TestCase(0xA, false, false)]
    [TestCase(0xB, true, true)]
    [TestCase(0xC, true, false)]
    [TestCase(0xD, false, false)]
    [TestCase(0xE, false, false)]
    [TestCase(0xF, false, false)]
    public void LarAndLsl_OfEachSystemDescriptorType_AsTheManualLists(int type, bool larValid, bool lslValid)
    {
        var (m, t, stop) = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0x67, (byte)(0x80 | type), 0)), a =>
        {
            a.mov(ecx, Test);
            a.mov(eax, 0x1111);
            a.mov(ebx, 0x2222);
            a.lar(eax, ecx);
            a.SaveFlags(edx);
            a.lsl(ebx, ecx);
            a.SaveFlags(esi);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1), "neither faults");
            Assert.That((m.Cpu.Edx & MiniHv.Cpu.Cpu.ZF) != 0, Is.EqualTo(larValid), "LAR's ZF");
            Assert.That(m.Cpu.Eax, Is.EqualTo(larValid ? (uint)(0x80 | type) << 8 : 0x1111u), "LAR's access rights");
            Assert.That((m.Cpu.Esi & MiniHv.Cpu.Cpu.ZF) != 0, Is.EqualTo(lslValid), "LSL's ZF");
            Assert.That(m.Cpu.Ebx, Is.EqualTo(lslValid ? 0x67u : 0x2222u), "LSL's limit");
        }
    }

    // access byte, RPL of the selector, VERR's ZF, VERW's ZF (at CPL 0)
    [TestCase(0x92, 0, true, true, TestName = "Verr_Verw_WritableData")]
    [TestCase(0x90, 0, true, false, TestName = "Verr_Verw_ReadOnlyData")]
    [TestCase(0x98, 0, false, false, TestName = "Verr_Verw_ExecuteOnlyCode")]
    [TestCase(0x9A, 0, true, false, TestName = "Verr_Verw_ReadableCode")]
    [TestCase(0x92, 3, false, false, TestName = "Verr_Verw_Dpl0DataThroughRpl3")]
    [TestCase(0x9E, 3, true, false, TestName = "Verr_Verw_ConformingReadableCodeThroughRpl3")]
    [TestCase(0xF2, 3, true, true, TestName = "Verr_Verw_Dpl3DataThroughRpl3")]
    [TestCase(0x89, 0, false, false, TestName = "Verr_Verw_Tss")]
    [TestCase(0x12, 0, true, true, TestName = "Verr_Verw_NotPresentDataStillVerifies")]
    public void VerrAndVerw_SetZfOnlyForASegmentTheCplMayReadOrWrite(int access, int rpl, bool readable, bool writable)
    {
        var (m, t, stop) = RunKernel(t => t.SetGdt(6, Desc.Segment(0x300000, 0xFFFF, (byte)access, 0)), a =>
        {
            a.mov(ecx, Test | rpl);
            a.verr(cx);
            a.SaveFlags(edx);
            a.mov(__word_ptr[0x9000], cx);
            a.verw(__word_ptr[0x9000]);
            a.SaveFlags(esi);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1), "neither faults");
            Assert.That((m.Cpu.Edx & MiniHv.Cpu.Cpu.ZF) != 0, Is.EqualTo(readable), "VERR's ZF");
            Assert.That((m.Cpu.Esi & MiniHv.Cpu.Cpu.ZF) != 0, Is.EqualTo(writable), "VERW's ZF");
        }
    }

    [TestCase(0, TestName = "Verr_NullSelector_ClearsZf")]
    [TestCase(0x7FF8, TestName = "Verr_SelectorBeyondTheGdt_ClearsZf")]
    public void Verr_OfANullOrOutOfTableSelector_ClearsZf(int selector)
    {
        var (m, t, stop) = RunKernel(_ => { }, a =>
        {
            a.mov(ecx, selector);
            a.verr(cx);
            a.SaveFlags(edx);
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Edx & MiniHv.Cpu.Cpu.ZF, Is.Zero);
        }
    }

    [Test]
    public void Icebp_FromRing3_DeliversTheDebugTrapPastTheInstruction_WithoutTheGatesDplCheck()
    {
        // Every IDT gate has DPL 0: INT 1 from ring 3 would be #GP; ICEBP (0xF1) is not checked.
        var (m, t, stop) = RunUser(_ => { }, a =>
        {
            a.nop();
            a.db(0xF1);
            a.nop();
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.DB, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x400002u), "the return address is after ICEBP");
            Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.UserCode));
        }
    }

    [TestCase(false, TestName = "ExecuteOnlyCs_FlatRead_RaisesGp")]
    [TestCase(true, TestName = "ExecuteOnlyCs_NotFlatRead_RaisesGp")]
    public void ReadThroughAnExecuteOnlyCodeSegment_RaisesGp(bool withBase)
    {
        // CS is execute-only code (type 8); a CS-override read must fault, while the code itself runs.
        ulong executeOnly = Desc.Segment(0, withBase ? 0xFFFFEu : 0xFFFFFu, 0x98) | (1ul << 40);
        var (m, t, stop) = RunKernel(t => t.Machine.Cpu.SetSegmentCache(SegReg.CS, SegmentCache.FromDescriptor(Test, executeOnly)), a =>
        {
            a.mov(ebx, 0x5555);
            a.mov(eax, __dword_ptr.cs[0x9000]);
            a.mov(ebx, 0x6666);
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(0), Is.Zero, "error code");
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x5555u), "the code before the read ran, the read did not complete");
        }
    }
}

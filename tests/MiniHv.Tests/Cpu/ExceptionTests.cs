using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// Exception delivery through an IDT built in memory: #UD (SSE/MMX included; x87 with the FPU hidden is in FpuControlTests), #GP, #BR, INT3/INTO,
/// gate types, double and triple fault, and INT from ring 3 to ring 0 with the TSS stack switch and IRET back.
/// </summary>
public class ExceptionTests
{
    private static (TestMachine M, SystemTables T, StopReason Stop) RunKernel(Action<Assembler> code, Action<SystemTables>? setup = null)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        setup?.Invoke(t);
        var stop = m.Run(a =>
        {
            code(a);
            a.hlt();
        });
        return (m, t, stop);
    }

    [TestCase(new byte[] { 0x0F, 0x0B }, TestName = "Ud2_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0x28, 0xC1 }, TestName = "SseMovaps_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0xAE, 0x10 }, TestName = "SseLdmxcsr_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xF3, 0x0F, 0x10, 0x00 }, TestName = "SseMovss_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x66, 0x0F, 0xEF, 0xC0 }, TestName = "Sse2Pxor_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0x77 }, TestName = "MmxEmms_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0x6E, 0xC0 }, TestName = "MmxMovd_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0xAE, 0x00 }, TestName = "Fxsave_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xF0, 0x01, 0xD8 }, TestName = "LockWithRegisterDestination_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xF0, 0x8B, 0x00 }, TestName = "LockOnMov_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0x0F, 0xFF }, TestName = "Ud0_RaisesInvalidOpcode")]
    public void UnsupportedOrInvalidOpcode_RaisesUd_WithEipAtTheInstructionAndNoErrorCode(byte[] bytes)
    {
        var (m, t, stop) = RunKernel(a =>
        {
            a.mov(eax, 0x9000);
            a.db(bytes);
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.UD, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 5), "EIP of the opcode, no error code below it");
            Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.KernelCode));
            Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u - 12));
        }
    }

    [Test]
    public void Int3_IsATrap_PushingTheAddressAfterIt()
    {
        var (m, t, stop) = RunKernel(a => a.int3());
        using (m)
        {
            t.AssertHaltedIn(Vectors.BP, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 1));
        }
    }

    [Test]
    public void Into_TrapsOnlyWhenOverflowIsSet()
    {
        var (m, t, stop) = RunKernel(a =>
        {
            a.mov(eax, 0x7FFFFFFF);
            a.into();                   // OF clear: nothing
            a.inc(eax);                 // OF set
            a.into();
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.OF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 8), "after the second INTO");
        }
    }

    [Test]
    public void Bound_OutOfRange_RaisesBoundRangeExceeded_AsAFault()
    {
        var (m, t, stop) = RunKernel(a =>
        {
            a.mov(__dword_ptr[0x9000], -5);
            a.mov(__dword_ptr[0x9004], 10);
            a.mov(eax, 10);
            a.bound(eax, __qword_ptr[0x9000]);   // in range
            a.mov(eax, unchecked((uint)-6));
            a.bound(eax, __qword_ptr[0x9000]);   // below
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.BR, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 0x14 + 5 + 6 + 5), "EIP of the second BOUND");
        }
    }

    [Test]
    public void IntN_ThroughAGateOfLowerDpl_AtCpl3_RaisesGpWithTheIdtEntry()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Assemble(0x400000, a => a.@int(0x40));
        t.EnterUserMode(0x400000, 0x7F000);
        var stop = m.Cpu.Run(10);
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo((0x40u * 8) | 2), "IDT bit set, EXT clear");
        Assert.That(t.Stack(1), Is.EqualTo(0x400000u), "the INT did not happen: EIP names it");
    }

    [Test]
    public void IntN_ThroughANotPresentGate_RaisesNpWithTheIdtEntry()
    {
        var (m, t, stop) = RunKernel(a => a.@int(0x41),
            tables => tables.SetGate(0x41, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x41), present: false)));
        using (m)
        {
            t.AssertHaltedIn(Vectors.NP, stop);
            Assert.That(t.Stack(0), Is.EqualTo((0x41u * 8) | 2));
        }
    }

    [Test]
    public void IntN_BeyondTheIdtLimit_RaisesGpWithTheIdtEntry()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Cpu.Idtr = new TableRegister { Base = SystemTables.IdtBase, Limit = (0x20 * 8) - 1 };
        var stop = m.Run(a => a.@int(0x20));
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo((0x20u * 8) | 2));
    }

    [Test]
    public void TrapGate_KeepsIf()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x42, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x42), trap: true));
        m.Cpu.Eflags = 0x2 | IF;
        var stop = m.Run(a => a.@int(0x42));
        t.AssertHaltedIn(0x42, stop);
        Assert.That(m.Cpu.Eflags & IF, Is.EqualTo(IF));
        Assert.That(t.Stack(2) & IF, Is.EqualTo(IF), "pushed EFLAGS");
    }

    [Test]
    public void InterruptGate_ClearsIfAndTf_AndPushesThemSet()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Cpu.Eflags = 0x2 | IF | TF;
        var stop = m.Run(a => a.@int(0x43));
        t.AssertHaltedIn(0x43, stop);
        Assert.That(m.Cpu.Eflags & (IF | TF), Is.EqualTo(0u));
        Assert.That(t.Stack(2) & (IF | TF), Is.EqualTo(IF | TF));
    }

    [Test]
    public void SixteenBitInterruptGate_PushesAWordFrame()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        const uint handler = 0x8000;
        m.Memory.Write8(handler, 0xF4);
        ulong gate = Desc.Gate(SystemTables.KernelCode, handler) & ~(0xFul << 40) | (0x6ul << 40);
        t.SetGate(0x44, gate);
        m.Load(a => a.@int(0x44), 0x6000);
        var stop = m.Cpu.Run(10);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eip, Is.EqualTo(handler + 1));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u - 6));
        Assert.That(m.Memory.Read16(0x80000 - 6), Is.EqualTo((ushort)0x6002), "IP");
        Assert.That(m.Memory.Read16(0x80000 - 4), Is.EqualTo((ushort)SystemTables.KernelCode));
    }

    [Test]
    public void GpWhileDeliveringGp_BecomesADoubleFault_WithErrorCodeZero()
    {
        // The gate for #GP is not present: delivering #GP raises #NP, contributory on contributory.
        var (m, t, stop) = RunKernel(a =>
        {
            a.mov(eax, 0x13);
            a.mov(ds, ax);              // RPL 3 > DPL 0: #GP(0x10)
        }, tables => tables.SetGate(Vectors.GP, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(Vectors.GP), present: false)));
        using (m)
        {
            t.AssertHaltedIn(Vectors.DF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0u), "#DF pushes 0");
            Assert.That(t.Stack(1), Is.EqualTo(TestMachine.CodeBase + 5), "EIP of the faulting MOV DS");
            Assert.That(m.Cpu.LastFault?.Vector, Is.EqualTo(Vectors.DF));
        }
    }

    [Test]
    public void BenignExceptionWhoseGateIsMissing_RaisesTheSecondFaultOnly()
    {
        // #UD is benign: a #NP while delivering it is delivered as an ordinary #NP, not a #DF.
        var (m, t, stop) = RunKernel(a => a.ud2(),
            tables => tables.SetGate(Vectors.UD, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(Vectors.UD), present: false)));
        using (m)
        {
            t.AssertHaltedIn(Vectors.NP, stop);
            Assert.That(t.Stack(0), Is.EqualTo((6u * 8) | 2 | 1), "IDT entry 6, EXT set: not caused by the program");
        }
    }

    [Test]
    public void PageFaultWhileReadingThePageFaultGate_BecomesADoubleFault()
    {
        // The IDT straddles two pages and gate 14 lies on the unmapped one: reading it to deliver a
        // #PF raises a second #PF, which makes a #DF (gate 8, on the mapped page).
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        const uint idtLinear = 0x402000 - (14 * 8), idtPhysical = 0x5000 + 0x1000 - (14 * 8);
        pt.Map(0x401000, 0x5000, PageTables.P | PageTables.RW);
        for (int v = 0; v < 14; v++)
            m.Memory.Write64(idtPhysical + ((uint)v * 8), Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(v)));
        m.Cpu.Idtr = new TableRegister { Base = idtLinear, Limit = 0x7FF };
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x600000]);
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.DF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u));
        Assert.That(t.Stack(1), Is.EqualTo(TestMachine.CodeBase), "EIP of the faulting MOV");
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x402000u), "CR2 holds the second fault's address");
    }

    [Test]
    public void PageFaultWithAnUnmappedKernelStack_TripleFaults()
    {
        // #PF cannot push its frame (#PF again: #DF), and #DF cannot push either: shutdown.
        using var m = new TestMachine();
        _ = new SystemTables(m);
        var pt = new PageTables(m);
        pt.SetPte(0x7F000, 0);
        m.Load(a =>
        {
            a.mov(esp, 0x7F800);
            a.mov(eax, __dword_ptr[0x400000]);
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        Assert.That(stop, Is.EqualTo(StopReason.TripleFault));
        Assert.That(m.Cpu.LastFault?.Vector, Is.EqualTo(Vectors.PF), "the last fault: pushing the #DF frame");
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x7F7FCu));
    }

    [Test]
    public void FaultWhileDeliveringADoubleFault_ShutsDown_WithoutThrowingToTheHost()
    {
        var (m, _, stop) = RunKernel(a =>
        {
            a.mov(eax, 0x13);
            a.mov(ds, ax);
        }, tables =>
        {
            tables.SetGate(Vectors.GP, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(Vectors.GP), present: false));
            tables.SetGate(Vectors.DF, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(Vectors.DF), present: false));
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.TripleFault));
            Assert.That(m.Cpu.Run(10), Is.EqualTo(StopReason.TripleFault), "a shut-down processor stays down");
        }
    }

    [Test]
    public void HandlerWhoseFirstInstructionFaults_StillLetsRunReturnWithinItsBudget()
    {
        // The #UD handler is UD2: each delivery pushes a frame and enters a handler that faults before it
        // retires anything. The stack is in the hole above RAM, where pushes vanish without faulting, so for
        // hundreds of millions of deliveries nothing double-faults: only the budget can end the call.
        using var m = new TestMachine();
        _ = new SystemTables(m);
        m.Load(a => a.ud2());
        m.Assemble(SystemTables.Stub(Vectors.UD), a => a.ud2());
        m.Cpu.Eip = TestMachine.CodeBase;
        m.Cpu.Esp = 0x8000_0000;

        StopReason stop = Exec.RunWithin(m, 100, TimeSpan.FromSeconds(10));
        Assert.That(stop, Is.EqualTo(StopReason.Budget));
        Assert.That(m.Cpu.LastFault?.Vector, Is.EqualTo(Vectors.UD));
    }

    [Test]
    public void EmptyIdt_TripleFaultsOnTheFirstException()
    {
        using var m = new TestMachine();
        m.Cpu.Idtr = new TableRegister { Base = 0, Limit = 0 };
        var stop = m.Run(a =>
        {
            a.ud2();
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.TripleFault));
    }

    [Test]
    public void IntFromRing3_SwitchesToTheTssStack_PushesTheUserFrame_AndIretReturnsToRing3()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        const uint handler = 0x190000, userCode = 0x400000, userStack = 0x7F000;
        t.SetGate(0x40, Desc.Gate(SystemTables.KernelCode, handler, dpl: 3));
        t.SetGate(0x81, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x81), dpl: 3));
        m.Assemble(handler, a =>
        {
            for (int k = 0; k < 5; k++)
            {
                a.mov(eax, __dword_ptr[esp + (k * 4)]);
                a.mov(__dword_ptr[0x9000 + (k * 4)], eax);
            }

            a.mov(__dword_ptr[0x9014], esp);
            a.mov(eax, cs);
            a.mov(__dword_ptr[0x9018], eax);
            a.mov(eax, ss);
            a.mov(__dword_ptr[0x901C], eax);
            a.add(__dword_ptr[esp + 12], -16);   // hand the user a lower stack pointer
            a.iretd();
        });
        m.Assemble(userCode, a =>
        {
            a.mov(ebx, 0x5A5A);
            a.@int(0x40);
            a.mov(ecx, esp);            // back in ring 3 after the IRET
            a.mov(edx, cs);
            a.@int(0x81);
        });
        t.EnterUserMode(userCode, userStack);
        m.Cpu.Eflags = 0x2 | IF | CF;
        var stop = m.Cpu.Run(1000);
        t.AssertHaltedIn(0x81, stop);

        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(userCode + 7), "EIP after INT 0x40");
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo((uint)SystemTables.UserCode), "CS");
        Assert.That(m.Memory.Read32(0x9008) & (IF | CF), Is.EqualTo(IF | CF), "EFLAGS");
        Assert.That(m.Memory.Read32(0x900C), Is.EqualTo(userStack), "user ESP");
        Assert.That(m.Memory.Read32(0x9010), Is.EqualTo((uint)SystemTables.UserData), "user SS");
        Assert.That(m.Memory.Read32(0x9014), Is.EqualTo(SystemTables.KernelStack - 20), "handler ran on ESP0 with a 5-dword frame");
        Assert.That(m.Memory.Read32(0x9018), Is.EqualTo((uint)SystemTables.KernelCode), "handler CS");
        Assert.That(m.Memory.Read32(0x901C), Is.EqualTo((uint)SystemTables.KernelData), "handler SS from SS0");

        Assert.That(m.Cpu.Ecx, Is.EqualTo(userStack - 16), "IRET restored ESP from the frame");
        Assert.That(m.Cpu.Edx, Is.EqualTo((uint)SystemTables.UserCode), "IRET returned to ring 3");
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x5A5Au));
        Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.UserCode), "the final INT came from ring 3 too");
    }

    [Test]
    public void ExceptionInRing3_PushesErrorCodeOnTheKernelStack_AboveTheUserFrame()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Assemble(0x400000, a =>
        {
            a.nop();
            a.hlt();                    // privileged: #GP(0)
        });
        t.EnterUserMode(0x400000, 0x7F000);
        var stop = m.Cpu.Run(10);
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(m.Cpu.Esp, Is.EqualTo(SystemTables.KernelStack - 24));
        Assert.That(t.Stack(0), Is.EqualTo(0u), "error code");
        Assert.That(t.Stack(1), Is.EqualTo(0x400001u), "EIP");
        Assert.That(t.Stack(2), Is.EqualTo((uint)SystemTables.UserCode), "CS");
        Assert.That(t.Stack(4), Is.EqualTo(0x7F000u), "ESP");
        Assert.That(t.Stack(5), Is.EqualTo((uint)SystemTables.UserData), "SS");
        Assert.That(m.Cpu.Cpl, Is.EqualTo(0));
    }

    [Test]
    public void Iret_AtCpl0_RestoresIoplAndIf_FromTheFrame()
    {
        var (m, _, stop) = RunKernel(a =>
        {
            var doIret = a.CreateLabel();
            var end = a.CreateLabel();
            a.push(0x2 | IF | IOPL | CF);
            a.push(SystemTables.KernelCode);
            a.call(doIret);             // pushes the EIP of the frame
            a.mov(eax, esp);
            a.jmp(end);
            a.Label(ref doIret);
            a.iretd();
            a.Label(ref end);
        });
        using var machine = m;
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eflags & (IF | IOPL | CF), Is.EqualTo(IF | IOPL | CF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80000u));
    }

    [Test]
    public void Iret_FromRing3ToRing0_RaisesGpWithTheCodeSelector()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        m.Assemble(0x400000, a =>
        {
            a.push(0x2);
            a.push(SystemTables.KernelCode);
            a.push(0x100000);
            a.iretd();                  // from CPL 3 to CPL 0: not allowed
        });
        t.EnterUserMode(0x400000, 0x7F000);
        var stop = m.Cpu.Run(10);
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(t.Stack(0), Is.EqualTo((uint)SystemTables.KernelCode));
    }

    [Test]
    public void FaultRecord_ReportsVectorErrorCodeAndEip_ToTheObserver()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var seen = new List<FaultRecord>();
        m.Cpu.FaultObserver = seen.Add;
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x13);
            a.mov(ds, ax);
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.GP, stop);
        Assert.That(seen, Has.Count.EqualTo(1));
        Assert.That(seen[0].Vector, Is.EqualTo(Vectors.GP));
        Assert.That(seen[0].ErrorCode, Is.EqualTo(0x10));
        Assert.That(seen[0].Eip, Is.EqualTo(TestMachine.CodeBase + 5));
    }
}

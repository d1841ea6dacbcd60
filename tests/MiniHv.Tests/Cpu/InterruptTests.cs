using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>External interrupts through an interrupt controller: the IF gate, the STI and MOV SS shadows, waking from HLT, ring 3.</summary>
public class InterruptTests
{
    private const byte Vector = 0x30;

    private static (TestMachine M, SystemTables T, FakeInterruptController Pic) Machine()
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        return (m, t, pic);
    }

    [Test]
    public void PendingInterrupt_WithIfClear_IsNotDelivered()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vector);
            var stop = m.Run(a =>
            {
                a.mov(eax, 1);
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Eax, Is.EqualTo(1u));
            Assert.That(pic.Acknowledged, Is.Empty);

            // Still halted with IF clear: a further Run does not deliver it either.
            Assert.That(m.Cpu.Run(10), Is.EqualTo(StopReason.Halted));
            Assert.That(pic.Acknowledged, Is.Empty);
        }
    }

    [Test]
    public void PendingInterrupt_WithIfSet_IsDeliveredBeforeTheNextInstruction_AndAcknowledgedOnce()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vector);
            m.Cpu.Eflags = 0x2 | IF;
            var stop = m.Run(a =>
            {
                a.mov(eax, 1);
                a.hlt();
            });
            t.AssertHaltedIn(Vector, stop);
            Assert.That(pic.Acknowledged, Is.EqualTo(new[] { Vector }));
            Assert.That(m.Cpu.Eax, Is.EqualTo(0u));
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase), "the interrupted instruction had not run");
            Assert.That(t.Stack(2) & IF, Is.EqualTo(IF));
            Assert.That(m.Cpu.InterruptsEnabled, Is.False, "an interrupt gate clears IF");
            Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u - 12), "no error code, even for an external interrupt");
        }
    }

    [Test]
    public void ExternalInterruptOnAnExceptionVector_PushesNoErrorCode()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vectors.GP);
            m.Cpu.Eflags = 0x2 | IF;
            var stop = m.Run(a => a.hlt());
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u - 12));
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase));
        }
    }

    [Test]
    public void Sti_LetsExactlyOneMoreInstructionRun_BeforeThePendingInterrupt()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vector);
            var stop = m.Run(a =>
            {
                a.sti();                // 1 byte
                a.mov(eax, 1);          // 5 bytes: runs in the shadow
                a.mov(ebx, 2);          // interrupted before this one
                a.hlt();
            });
            t.AssertHaltedIn(Vector, stop);
            Assert.That(m.Cpu.Eax, Is.EqualTo(1u));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0u));
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 6));
        }
    }

    [Test]
    public void StiHlt_WithAnInterruptPending_DeliversItAndReturnsAfterTheHlt()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            const uint handler = 0x190000;
            t.SetGate(Vector, Desc.Gate(SystemTables.KernelCode, handler));
            m.Assemble(handler, a =>
            {
                a.inc(__dword_ptr[0x9000]);
                a.iretd();
            });
            pic.Pending.Enqueue(Vector);
            var stop = m.Run(a =>
            {
                a.sti();
                a.hlt();                // the classic idle: the interrupt wakes it
                a.mov(eax, 5);
                a.cli();
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(1u));
            Assert.That(m.Cpu.Eax, Is.EqualTo(5u));
        }
    }

    [Test]
    public void Hlt_WithIfSet_StopsTheRun_AndALaterInterruptWakesIt()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            const uint handler = 0x190000;
            t.SetGate(Vector, Desc.Gate(SystemTables.KernelCode, handler));
            m.Assemble(handler, a =>
            {
                a.mov(ebx, 0x77);
                a.iretd();
            });
            m.Cpu.Eflags = 0x2 | IF;
            var stop = m.Run(a =>
            {
                a.hlt();
                a.mov(eax, 5);
                a.cli();
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.IsHalted, Is.True);
            Assert.That(m.Cpu.Eip, Is.EqualTo(TestMachine.CodeBase + 1));

            Assert.That(m.Cpu.Run(10), Is.EqualTo(StopReason.Halted), "nothing pending: stays halted");
            Assert.That(m.Cpu.Eax, Is.EqualTo(0u));

            pic.Pending.Enqueue(Vector);
            stop = m.Cpu.Run(100);
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x77u), "the handler ran");
            Assert.That(m.Cpu.Eax, Is.EqualTo(5u), "and returned after the first HLT");
            Assert.That(m.Cpu.Eip, Is.EqualTo(TestMachine.CodeBase + 8));
        }
    }

    [Test]
    public void SecondPendingInterrupt_WaitsWhileTheInterruptGateKeepsIfClear()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vector);
            pic.Pending.Enqueue(Vector + 1);
            m.Cpu.Eflags = 0x2 | IF;
            var stop = m.Run(a => a.hlt());
            t.AssertHaltedIn(Vector, stop);
            Assert.That(pic.Acknowledged, Is.EqualTo(new[] { Vector }));
        }
    }

    [Test]
    public void InterruptRaisedByAnOut_IsDeliveredRightAfterTheOut()
    {
        // The line rises during the OUT; the next instruction boundary takes it, as QEMU does.
        var (m, t, pic) = Machine();
        using (m)
        {
            m.Io.OnOut = (port, _) => pic.Pending.Enqueue(Vector);
            m.Cpu.Eflags = 0x2 | IF;
            var stop = m.Run(a =>
            {
                a.mov(eax, 7);                          // 5 bytes
                a.@out(0x80, al);                       // 2 bytes: raises the line
                a.mov(ebx, 1);                          // interrupted before this
                a.hlt();
            });
            t.AssertHaltedIn(Vector, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 7));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0u));
        }
    }

    [Test]
    public void PendingInterrupt_WaitsOutTheStiThenTheMovSsShadow()
    {
        // STI holds off interrupts for one instruction; a MOV SS there holds them off for one more, so
        // that SS:ESP is loaded as a pair (QEMU chains the two shadows the same way).
        var (m, t, pic) = Machine();
        using (m)
        {
            pic.Pending.Enqueue(Vector);
            var stop = m.Run(a =>
            {
                a.mov(eax, SystemTables.KernelData);    // 5 bytes
                a.sti();                                // 1 byte
                a.mov(ss, ax);                          // 3 bytes (Iced writes the 66 prefix)
                a.mov(esp, 0x60000);                    // 5 bytes, in the shadow
                a.mov(ebx, 1);                          // interrupted before this
                a.hlt();
            });
            t.AssertHaltedIn(Vector, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 14));
            Assert.That(m.Cpu.Esp, Is.EqualTo(0x60000u - 12), "the frame went on the new stack");
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0u));
        }
    }

    [Test]
    public void InterruptInRing3_SwitchesToTheTssStack_AndPushesTheUserFrame()
    {
        var (m, t, pic) = Machine();
        using (m)
        {
            m.Assemble(0x400000, a =>
            {
                var spin = a.CreateLabel();
                a.Label(ref spin);
                a.inc(eax);
                a.jmp(spin);
            });
            t.EnterUserMode(0x400000, 0x7F000);
            m.Cpu.Eflags = 0x2 | IF;
            Assert.That(m.Cpu.Run(50), Is.EqualTo(StopReason.Budget));
            pic.Pending.Enqueue(Vector);
            var stop = m.Cpu.Run(50);
            t.AssertHaltedIn(Vector, stop);
            Assert.That(m.Cpu.Esp, Is.EqualTo(SystemTables.KernelStack - 20));
            Assert.That(t.Stack(1), Is.EqualTo((uint)SystemTables.UserCode));
            Assert.That(t.Stack(2) & IF, Is.EqualTo(IF));
            Assert.That(t.Stack(3), Is.EqualTo(0x7F000u));
            Assert.That(t.Stack(4), Is.EqualTo((uint)SystemTables.UserData));
            Assert.That(m.Cpu.Cpl, Is.EqualTo(0));
        }
    }
}

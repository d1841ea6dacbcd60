using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>Stores into decoded code take effect: later in the same block, in another block, through an alias, and by bulk copies.</summary>
public class SelfModifyingCodeTests
{
    private const uint Fn = 0x101000;

    private static PageTables? MaybePaging(TestMachine m, bool paging)
    {
        if (!paging)
            return null;
        var pt = new PageTables(m);
        pt.Enable();
        return pt;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StoreIntoALaterInstructionOfTheSameBlock_ChangesWhatRuns(bool paging)
    {
        using var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(__byte_ptr[TestMachine.CodeBase + 7 + 1], 0x22);  // 7 bytes: C6 05 disp32 imm8
            a.mov(al, 0x11);                                        // at CodeBase + 7: B0 11
            a.hlt();
        });
        MaybePaging(m, paging);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax & 0xFF, Is.EqualTo(0x22u));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StoreIntoAFunctionThatAlreadyRan_ChangesItsNextCall(bool paging)
    {
        using var m = new TestMachine();
        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);              // B8 01 00 00 00: the immediate starts at Fn + 1
            a.ret();
        });
        m.Load(a =>
        {
            a.mov(edx, Fn);
            a.call(edx);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[Fn + 1], 2);
            a.call(edx);
            a.hlt();
        });
        MaybePaging(m, paging);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(2u));
    }

    [Test]
    public void LoopThatPatchesItsOwnBody_SeesThePatchOnTheNextIteration()
    {
        using var m = new TestMachine();
        m.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 3);              // 5 bytes
            a.xor(ebx, ebx);            // 2 bytes
            a.Label(ref top);
            a.mov(eax, 1);              // at CodeBase + 7; immediate at + 8
            a.add(ebx, eax);
            a.mov(__byte_ptr[TestMachine.CodeBase + 8], 5);
            a.loop(top);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u + 5 + 5));
    }

    [Test]
    public void StoreThroughAnotherLinearAlias_OfTheCodeFrame_TakesEffect()
    {
        using var m = new TestMachine();
        var pt = new PageTables(m);
        pt.Map(0x900000, Fn, PageTables.P | PageTables.RW);     // a second window on the code frame
        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);
            a.ret();
        });
        m.Load(a =>
        {
            a.mov(edx, Fn);
            a.call(edx);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[0x900001], 7);
            a.call(edx);
            a.hlt();
        });
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(7u));
    }

    [Test]
    public void RepMovsCopyingNewCodeOverAFunction_ReplacesIt()
    {
        using var m = new TestMachine();
        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);
            a.ret();
        });
        m.Assemble(0x102000, a =>
        {
            a.mov(eax, 0xC0DE);         // the replacement, same length
            a.ret();
        });
        m.Load(a =>
        {
            a.mov(edx, Fn);
            a.call(edx);
            a.mov(ebx, eax);
            a.mov(esi, 0x102000);
            a.mov(edi, Fn);
            a.mov(ecx, 6);
            a.rep.movsb();
            a.call(edx);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xC0DEu));
    }

    [Test]
    public void HostWriteToCode_NotifiedToTheCpu_IsSeenOnTheNextRun()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x30, Desc.Gate(SystemTables.KernelCode, Fn));
        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);
            a.hlt();
        });
        m.Cpu.Eip = Fn;
        m.Cpu.Eflags = 0x2 | MiniHv.Cpu.Cpu.IF;
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(1u));

        // A device or loader rewrites the frame behind the CPU's back and says so; an interrupt
        // then wakes the CPU from HLT straight into the rewritten code.
        m.Memory.Write8(Fn + 1, 9);
        m.Cpu.NotifyFrameWritten(Fn >> 12);
        var pic = new FakeInterruptController();
        pic.Pending.Enqueue(0x30);
        m.Cpu.InterruptController = pic;
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(9u));
    }
    [TestCase(false)]
    [TestCase(true)]
    public void StoresBesideTheCodeOnItsPage_KeepTheDecodedBlocks_WhileAStoreIntoTheCodeStillTakesEffect(bool paging)
    {
        // A small program's globals share the page of its text: a loop storing to one must not decode itself again.
        const uint Counter = TestMachine.CodeBase + 0x800;
        using var m = new TestMachine();
        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);              // B8 01 00 00 00: the immediate starts at Fn + 1
            a.ret();
        });
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 1000);
            a.Label(ref loop);
            a.inc(__dword_ptr[Counter]);
            a.loop(loop);
            a.mov(edx, Fn);
            a.call(edx);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[Fn + 1], 2); // into the code of Fn's page: its blocks go
            a.call(edx);
            a.hlt();
        });
        MaybePaging(m, paging);
        Assert.That(m.Cpu.Run(10_000), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Memory.Read32(Counter), Is.EqualTo(1000u));
        Assert.That((m.Cpu.Ebx, m.Cpu.Eax), Is.EqualTo((1u, 2u)));
        Assert.That(m.Cpu.BlocksDecoded, Is.LessThan(10), "the loop's blocks were decoded once, not at every store");
    }
}

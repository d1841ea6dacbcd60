using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The interpreter's blocks go on past a 32-bit conditional branch while it is not taken (DecodeBlock, JccSideExit):
/// a branch taken in the middle of a block goes to its target, faults and budgets in the rest of the block stop at the
/// right instruction, and every instruction is counted as with blocks that end at each branch. The block compiler's
/// tier decodes the same blocks and compiles such a branch as a side exit.
/// </summary>
public class FallThroughBranchTests
{
    // ebx counts 1..100; the JE is taken once, at 100; the JNE loops back, except once (at 50), when it falls through
    // to an ADD of 1000 and a JMP back. Both branches are in the middle of the interpreter's block, which ends at the JMP.
    private static void CountingLoop(Assembler a)
    {
        Label top = a.CreateLabel(), done = a.CreateLabel();
        a.xor(eax, eax);
        a.xor(ebx, ebx);
        a.Label(ref top);
        a.inc(ebx);
        a.cmp(ebx, 100);
        a.je(done);
        a.add(eax, ebx);
        a.cmp(ebx, 50);
        a.jne(top);
        a.add(eax, 1000);
        a.jmp(top);
        a.Label(ref done);
        a.hlt();
    }

    private static TestMachine Run(Action<Assembler> program, CpuTier tier, long budget = 100_000)
    {
        var m = new TestMachine();
        m.Cpu.Tier = tier;
        m.Load(program);
        Assert.That(m.Cpu.Run(budget), Is.EqualTo(StopReason.Halted), () => $"stopped at EIP {m.Cpu.Eip:x8}, last fault {m.Cpu.LastFault}");
        return m;
    }

    [Test]
    public void LoopWithABranchInTheMiddleOfItsBlock_GivesTheSameResultAndCount_InFewerBlocks_UnderBothTiers()
    {
        using TestMachine interp = Run(CountingLoop, CpuTier.Interp);
        using var jit = new TestMachine();
        jit.Cpu.Tier = CpuTier.Jit;
        jit.Cpu.JitThreshold = 1; // compiled at its first run, side exits and all
        jit.Cpu.CompileInline = true;
        jit.Load(CountingLoop);
        Assert.That(jit.Cpu.Run(100_000), Is.EqualTo(StopReason.Halted));

        Assert.That(interp.Cpu.Eax, Is.EqualTo(4950u + 1000));
        Assert.That(interp.Cpu.Ebx, Is.EqualTo(100u));
        // 2 before the loop, 6 per pass for 1..99, 2 more at 50, 3 at 100 (INC, CMP, JE taken) and the HLT.
        Assert.That(interp.Cpu.InstructionsExecuted, Is.EqualTo(2 + (99 * 6) + 2 + 3 + 1));
        Assert.That(jit.Cpu.Eax, Is.EqualTo(interp.Cpu.Eax));
        Assert.That(jit.Cpu.Ebx, Is.EqualTo(interp.Cpu.Ebx));
        Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(interp.Cpu.InstructionsExecuted));
        Assert.That(jit.Cpu.Eip, Is.EqualTo(interp.Cpu.Eip), "halted after the HLT at the JE's target");
        Assert.That(jit.Cpu.InstructionsCompiled, Is.GreaterThan(500), "the loop ran compiled, its branches as side exits");

        // Blocks end at the JMP only: the first pass's block (from the XORs), the loop's from its top, and the HLT's.
        // With blocks ending at each branch there would be five: XORs to JE, ADD to JNE, the top to JE, ADD 1000 and
        // JMP, HLT. The block compiler's tier decodes the same blocks as the interpreter's.
        Assert.That(interp.Cpu.BlocksDecoded, Is.EqualTo(3));
        Assert.That(jit.Cpu.BlocksDecoded, Is.EqualTo(3));
    }

    [Test]
    public void BranchTakenInTheMiddleOfItsBlockOverAndOver_LoopsToItsTarget()
    {
        using TestMachine m = Run(a =>
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.dec(ecx);
            a.jnz(top);          // taken 999 times, yet the block goes on past it
            a.add(eax, 100);
            a.hlt();
        }, CpuTier.Interp);

        Assert.That(m.Cpu.Eax, Is.EqualTo(1100u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0u));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(2 + (1000 * 3) + 2));
    }

    [Test]
    public void BranchTakenBackToItsBlocksStartInTheMiddleOfIt_LoopsInPlaceWhenCompiled()
    {
        // The loop's JNZ goes back to the start of the block it is in the middle of: compiled, the block loops in
        // place there, passes of three instructions, and leaves by the side exit's fall-through.
        static void Program(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.xor(eax, eax);
            a.jmp(top); // the loop's block starts at its top
            a.Label(ref top);
            a.inc(eax);
            a.dec(ecx);
            a.jnz(top);
            a.add(eax, 100);
            a.hlt();
        }

        using var jit = new TestMachine();
        jit.Cpu.Tier = CpuTier.Jit;
        jit.Cpu.JitThreshold = 1;
        jit.Cpu.CompileInline = true;
        jit.Load(Program);
        Assert.That(jit.Cpu.Run(100_000), Is.EqualTo(StopReason.Halted));

        Assert.That(jit.Cpu.Eax, Is.EqualTo(1100u));
        Assert.That(jit.Cpu.Ecx, Is.EqualTo(0u));
        Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(3 + (1000 * 3) + 2));
        Assert.That(jit.Cpu.InstructionsCompiled, Is.GreaterThanOrEqualTo(3000), "every pass of the loop ran compiled");
    }

    [Test]
    public void FaultAfterABranchNotTaken_IsRaisedAtTheFaultingInstruction()
    {
        using var m = new TestMachine();
        var t = new SystemTables(m);
        var stop = m.Run(a =>
        {
            a.mov(eax, 7);        // 5 bytes
            a.xor(ecx, ecx);      // 2
            a.test(eax, eax);     // 2
            a.db(0x74, 0x02);     // jz +2, not taken
            a.div(ecx);           // at CodeBase + 11: #DE
            a.nop();
            a.nop();
            a.hlt();
        });
        t.AssertHaltedIn(Vectors.DE, stop);
        Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 11), "EIP of the DIV, after the branch in the same block");
        Assert.That(m.Cpu.Eax, Is.EqualTo(7u));
    }

    [Test]
    public void OneInstructionAtATime_StopsInsideTheBlock_AndEndsAsOneRun()
    {
        using TestMachine whole = Run(CountingLoop, CpuTier.Interp);

        using var stepped = new TestMachine();
        stepped.Load(CountingLoop);
        StopReason stop = StopReason.Budget;
        int runs = 0;
        while (stop == StopReason.Budget && runs++ < 10_000)
            stop = stepped.Cpu.Run(1);

        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(stepped.Cpu.InstructionsExecuted, Is.EqualTo(whole.Cpu.InstructionsExecuted));
        Assert.That(runs, Is.EqualTo(whole.Cpu.InstructionsExecuted), "one instruction retired per run, the HLT's included");
        Assert.That(stepped.Cpu.Eax, Is.EqualTo(whole.Cpu.Eax));
        Assert.That(stepped.Cpu.Ebx, Is.EqualTo(whole.Cpu.Ebx));
    }
}

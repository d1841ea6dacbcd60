using Iced.Intel;
using MiniHv.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>Pause-loop exiting: a spin on PAUSE ends the run after the limit, and only then.</summary>
public class PauseLoopTests
{
    private static void Spin(Assembler a)
    {
        Label top = a.CreateLabel();
        a.Label(ref top);
        a.pause();
        a.jmp(top);
    }

    [Test]
    public void WithALimit_TheRunEndsAtTheLimitsPause()
    {
        using var m = new TestMachine();
        m.Cpu.PauseLoopLimit = 4;
        m.Load(Spin);
        Assert.That(m.Cpu.Run(1000), Is.EqualTo(StopReason.PauseLoop));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(7), "pause, jmp, pause, jmp, pause, jmp, pause");
        Assert.That(m.Cpu.PauseLoopExits, Is.EqualTo(1));

        // Each run counts afresh.
        Assert.That(m.Cpu.Run(1000), Is.EqualTo(StopReason.PauseLoop));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(15));
    }

    [Test]
    public void WithoutALimit_PauseIsANop()
    {
        using var m = new TestMachine();
        m.Load(Spin);
        Assert.That(m.Cpu.Run(1000), Is.EqualTo(StopReason.Budget));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(1000));
        Assert.That(m.Cpu.PauseLoopExits, Is.Zero);
    }
}

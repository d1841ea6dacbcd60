using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

public class CpuSmokeTests
{
    [Test]
    public void LoopSummingOneToTen_LeavesFiftyFiveInEax()
    {
        using var m = new TestMachine();
        var stop = m.Run(a =>
        {
            var loop = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 10);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(55u));
        Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(2 + (3 * 10) + 1));
    }

    [Test]
    public void CallAndReturn_UseTheStack()
    {
        using var m = new TestMachine();
        var stop = m.Run(a =>
        {
            var fn = a.CreateLabel();
            var end = a.CreateLabel();
            a.mov(eax, 1);
            a.call(fn);
            a.jmp(end);
            a.Label(ref fn);
            a.add(eax, 41);
            a.ret();
            a.Label(ref end);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(42u));
        Assert.That(m.Cpu.Esp, Is.EqualTo(0x80000u));
    }
}

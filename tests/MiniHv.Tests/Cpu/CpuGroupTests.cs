using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>Two processors over the same memory: a store by one into code the other decoded changes what the other runs.</summary>
public class CpuGroupTests
{
    private const uint Fn = 0x101000;
    private const uint Writer = 0x102000;

    private static (TestMachine Machine, MiniHv.Cpu.Cpu Other) TwoProcessors(bool grouped)
    {
        var m = new TestMachine();
        var other = new MiniHv.Cpu.Cpu(m.Memory, m.Io);
        if (grouped)
        {
            var group = new CpuGroup();
            group.Add(m.Cpu);
            group.Add(other);
        }

        m.Assemble(Fn, a =>
        {
            a.mov(eax, 1);   // B8 01 00 00 00: the immediate at Fn + 1
            a.hlt();
        });
        return (m, other);
    }

    private static uint RunFunction(MiniHv.Cpu.Cpu cpu)
    {
        cpu.Wake();
        cpu.Eip = Fn;
        Assert.That(cpu.Run(100), Is.EqualTo(StopReason.Halted));
        return cpu.Eax;
    }

    [TestCase(0x02)]
    [TestCase(0x03)]
    public void StoreByOneIntoCodeTheOtherDecoded_ChangesWhatTheOtherRuns(int immediate)
    {
        var (m, other) = TwoProcessors(grouped: true);
        using (m)
        using (other)
        {
            Assert.That(RunFunction(m.Cpu), Is.EqualTo(1u));
            m.Assemble(Writer, a =>
            {
                a.mov(__byte_ptr[Fn + 1], immediate);
                a.hlt();
            });
            other.Eip = Writer;
            Assert.That(other.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(RunFunction(m.Cpu), Is.EqualTo((uint)immediate));
        }
    }

    [Test]
    public void StoreByOneIntoCodeTheOtherDecoded_ThroughAWriteEntryTakenBefore_StillReachesIt()
    {
        var (m, other) = TwoProcessors(grouped: true);
        using (m)
        using (other)
        {
            m.Assemble(Writer, a =>
            {
                a.mov(__byte_ptr[Fn + 0x800], 0);   // a write entry for Fn's page, before anyone decoded from it
                a.hlt();
                a.mov(__byte_ptr[Fn + 1], 7);       // the same page, after the other processor decoded from it
                a.hlt();
            });
            other.Eip = Writer;
            Assert.That(other.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(RunFunction(m.Cpu), Is.EqualTo(1u));
            other.Wake();
            Assert.That(other.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(RunFunction(m.Cpu), Is.EqualTo(7u));
        }
    }
}

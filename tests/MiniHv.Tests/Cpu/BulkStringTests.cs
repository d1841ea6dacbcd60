using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// REP MOVS and STOS run a page's worth of elements at once where the TLB holds both pages: what the guest sees
/// (memory, ESI, EDI, ECX, the instruction count) must be what element-by-element execution gives, including
/// where the copy overlaps itself, crosses a page or runs into a page fault.
/// </summary>
public class BulkStringTests
{
    private const uint Buf = 0x9000;

    /// <summary>Runs ESI = Buf, EDI = Buf + 0x800, ECX = count, EAX = 0x5A5A5A5A, then <paramref name="rep"/>; returns the instructions retired.</summary>
    private static long Instructions(TestMachine m, uint count, Action<Iced.Intel.Assembler> rep)
    {
        m.Cpu.Wake();
        m.Load(a =>
        {
            a.mov(esi, Buf);
            a.mov(edi, Buf + 0x800);
            a.mov(ecx, count);
            a.mov(eax, 0x5A5A5A5A);
            a.cld();
            rep(a);
            a.hlt();
        });
        long before = m.Cpu.InstructionsExecuted;
        Assert.That(m.Cpu.Run(100_000), Is.EqualTo(StopReason.Halted));
        return m.Cpu.InstructionsExecuted - before;
    }

    [Test]
    public void RepMovsdOntoItselfFourBytesAhead_ReplicatesTheFirstDword_AsElementByElement()
    {
        using var m = new TestMachine();
        for (uint k = 0; k < 32; k++)
            m.Memory.Write32(Buf + (k * 4), 0x100 + k);
        m.Run(a =>
        {
            a.mov(esi, Buf);
            a.mov(edi, Buf + 4);
            a.mov(ecx, 16);
            a.cld();
            a.rep.movsd();
            a.hlt();
        });
        for (uint k = 0; k <= 16; k++)
            Assert.That(m.Memory.Read32(Buf + (k * 4)), Is.EqualTo(0x100u), $"dword {k}");
        Assert.That(m.Memory.Read32(Buf + (17 * 4)), Is.EqualTo(0x100u + 17));
        Assert.That((m.Cpu.Esi, m.Cpu.Edi, m.Cpu.Ecx), Is.EqualTo((Buf + 64, Buf + 68, 0u)));
    }

    [Test]
    public void RepStosdAcrossPages_FillsEveryDword_AndCountsEveryIteration()
    {
        // 3000 dwords from the middle of a page: three pages, the first and last in part.
        using var m = new TestMachine();
        long one = Instructions(m, 1, a => a.rep.stosd());
        long many = Instructions(m, 3000, a => a.rep.stosd());
        Assert.That(many - one, Is.EqualTo(2999), "one instruction of budget per element");
        for (uint k = 0; k < 3000; k++)
            Assert.That(m.Memory.Read32(Buf + 0x800 + (k * 4)), Is.EqualTo(0x5A5A5A5Au), $"dword {k}");
        Assert.That(m.Memory.Read32(Buf + 0x800 + (3000 * 4)), Is.EqualTo(0u), "nothing past the count");
        Assert.That((m.Cpu.Edi, m.Cpu.Ecx), Is.EqualTo((Buf + 0x800 + 12000, 0u)));
    }

    [Test]
    public void RepMovsbAcrossAnUnalignedPageEnd_CopiesEveryByte()
    {
        using var m = new TestMachine();
        for (uint k = 0; k < 0x2000; k++)
            m.Memory.Write8(Buf + k, (byte)(k * 7));
        long one = Instructions(m, 1, a => a.rep.movsb());
        long many = Instructions(m, 0x1801, a => a.rep.movsb()); // Buf to Buf + 0x800: the copy runs into its own output
        Assert.That(many - one, Is.EqualTo(0x1800));
        // Element by element, every byte written is the byte 0x800 below it, which by then holds what was copied
        // there: the first 0x800 bytes repeat, ending one byte past a page boundary.
        for (uint k = 0; k < 0x1801; k++)
            Assert.That(m.Memory.Read8(Buf + 0x800 + k), Is.EqualTo((byte)((k % 0x800) * 7)), $"byte {k}");
    }
}

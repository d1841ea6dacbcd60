using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>IN/OUT through the I/O bus, and the IOPL and TSS I/O-permission-bitmap checks at CPL 3.</summary>
public class IoTests
{
    [Test]
    public void Out_WithImmediateAndDxPorts_SendsEachSize()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11223344);
            a.@out(0x80, al);
            a.mov(edx, 0x3F8);
            a.@out(dx, ax);
            a.@out(dx, eax);
        });
        Assert.That(m.Io.Outs, Is.EqualTo(new[]
        {
            ((ushort)0x80, 1, 0x44u),
            ((ushort)0x3F8, 2, 0x3344u),
            ((ushort)0x3F8, 4, 0x11223344u),
        }));
    }

    [Test]
    public void In_WithImmediateAndDxPorts_ReadsEachSize_IntoOnlyThatPartOfEax()
    {
        using var m = new TestMachine();
        m.Io.Inputs[0x71] = 0xAB;
        m.Io.Inputs[0x1F0] = 0xCDEF;
        m.Io.Inputs[0xCFC] = 0x12345678;
        m.Run(a =>
        {
            a.mov(eax, 0xFFFFFFFF);
            a.@in(al, 0x71);
            a.mov(ebx, eax);
            a.mov(edx, 0x1F0);
            a.mov(eax, 0xFFFFFFFF);
            a.@in(ax, dx);
            a.mov(ecx, eax);
            a.mov(edx, 0xCFC);
            a.@in(eax, dx);
            a.hlt();
        });
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFFFFFFABu));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xFFFFCDEFu));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345678u));
        Assert.That(m.Io.Ins, Is.EqualTo(new[] { ((ushort)0x71, 1), ((ushort)0x1F0, 2), ((ushort)0xCFC, 4) }));
    }

    /// <summary>Run <paramref name="user"/> at CPL 3; it ends in INT 0x80. Optionally give the TSS an I/O bitmap allowing <paramref name="allowed"/> ports.</summary>
    private static (TestMachine M, SystemTables T, StopReason Stop) RunUser(uint eflags, Action<Assembler> user, params ushort[] allowed)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        if (allowed.Length > 0)
        {
            // Bitmap at offset 0x68 covering ports 0..0x3FF (0x80 bytes), then the 0xFF terminator.
            const uint bitmap = SystemTables.TssBase + 0x68;
            for (uint k = 0; k < 0x81; k++)
                m.Memory.Write8(bitmap + k, 0xFF);
            foreach (ushort p in allowed)
                m.Memory.Write8(bitmap + (uint)(p >> 3), (byte)(m.Memory.Read8(bitmap + (uint)(p >> 3)) & ~(1 << (p & 7))));
            uint limit = 0x68 + 0x80;
            t.SetGdt(5, Desc.Segment(SystemTables.TssBase, limit, 0x8B, 0));
            m.Cpu.Tr = SegmentCache.FromDescriptor(SystemTables.TssSelector, Desc.Segment(SystemTables.TssBase, limit, 0x8B, 0));
        }

        m.Assemble(0x400000, a =>
        {
            user(a);
            a.@int(0x80);
        });
        t.EnterUserMode(0x400000, 0x7F000);
        m.Cpu.Eflags = eflags;
        return (m, t, m.Cpu.Run(1000));
    }

    [Test]
    public void InAndOut_AtCpl3WithIopl3_AreAllowed()
    {
        var (m, t, stop) = RunUser(0x2 | IOPL, a =>
        {
            a.mov(al, 0x41);
            a.@out(0xE9, al);
        });
        using (m)
        {
            t.AssertHaltedIn(0x80, stop);
            Assert.That(m.Io.Outs, Is.EqualTo(new[] { ((ushort)0xE9, 1, 0x41u) }));
        }
    }

    [Test]
    public void Out_AtCpl3WithIopl0_AndNoBitmap_RaisesGeneralProtection()
    {
        var (m, t, stop) = RunUser(0x2, a =>
        {
            a.mov(al, 0x41);
            a.@out(0xE9, al);
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0u));
            Assert.That(t.Stack(1), Is.EqualTo(0x400002u), "the OUT, after the 2-byte MOV");
            Assert.That(m.Io.Outs, Is.Empty);
        }
    }

    [Test]
    public void IoBitmap_AtCpl3_AllowsClearedBitsOnly()
    {
        var (m, t, stop) = RunUser(0x2, a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, 0x42);
            a.@out(dx, al);             // allowed
            a.@in(al, dx);              // allowed
            a.inc(dx);
            a.@out(dx, al);             // 0x3F9 denied: #GP
        }, 0x3F8);
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Io.Outs, Is.EqualTo(new[] { ((ushort)0x3F8, 1, 0x42u) }));
            Assert.That(m.Io.Ins, Has.Count.EqualTo(1));
        }
    }

    [Test]
    public void IoBitmap_AWordAccess_NeedsEveryByteItTouchesAllowed()
    {
        var (m, t, stop) = RunUser(0x2, a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(ax, 0x1234);
            a.@out(dx, ax);             // ports 0x3F8 and 0x3F9: 0x3F9 is denied
        }, 0x3F8);
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Io.Outs, Is.Empty);
        }
    }

    [Test]
    public void IoBitmap_ADwordAccess_AcrossAByteOfTheBitmap_IsChecked()
    {
        var (m, t, stop) = RunUser(0x2, a =>
        {
            a.mov(dx, 0x3E);
            a.mov(eax, 0x1234);
            a.@out(dx, eax);            // ports 0x3E..0x41 span two bitmap bytes: all allowed
        }, 0x3E, 0x3F, 0x40, 0x41);
        using (m)
        {
            t.AssertHaltedIn(0x80, stop);
            Assert.That(m.Io.Outs, Is.EqualTo(new[] { ((ushort)0x3E, 4, 0x1234u) }));
        }
    }

    [Test]
    public void Outs_AtCpl3_IsCheckedLikeOut()
    {
        var (m, t, stop) = RunUser(0x2, a =>
        {
            a.mov(dx, 0x60);
            a.mov(esi, 0x9000);
            a.outsb();
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Io.Outs, Is.Empty);
        }
    }
}

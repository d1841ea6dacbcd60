using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Cpu.Fpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// FXSAVE and FXRSTOR without SSE: the 512-byte image's x87 fields (SDM table 10-2), the abridged tag byte,
/// the round trip, #GP(0) on an address not 16-byte aligned, #NM under CR0.EM and CR0.TS, and #UD while
/// CPUID does not report FXSR (MiniHv's default).
/// </summary>
public class FpuFxsaveTests
{
    private const uint Image = 0x9000;
    private const uint Data = 0x8F00;

    private static (TestMachine M, SystemTables T, StopReason Stop) Run(Action<Assembler> code, bool fxsr = true, uint cr0 = 0)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        if (fxsr)
            m.Cpu.FeatureFlags |= FeatureFxsr;
        m.Cpu.Cr0 |= cr0;
        var stop = m.Run(a =>
        {
            code(a);
            a.hlt();
        });
        return (m, t, stop);
    }

    [Test]
    public void Fxsave_WritesTheX87FieldsAndRegisters_AndLeavesTheStateAsItWas()
    {
        var (m, t, stop) = Run(a =>
        {
            a.fninit();
            a.fld1(); // ST(1) after the next load: physical 7
            a.fldz(); // ST(0): physical 6
            a.fxsave(__[Image]);
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1), "FXSAVE ran");
            Assert.That(m.Memory.Read16(Image), Is.EqualTo((ushort)0x037F), "FCW");
            Assert.That(m.Memory.Read16(Image + 2), Is.EqualTo((ushort)(6 << 11)), "FSW: TOP 6");
            Assert.That(m.Memory.Read8(Image + 4), Is.EqualTo((byte)0xC0), "abridged tags: physical 6 and 7 in use");
            Assert.That(m.Memory.Read64(Image + 32), Is.Zero, "ST(0) = +0");
            Assert.That(m.Memory.Read16(Image + 40), Is.Zero);
            Assert.That(m.Memory.Read64(Image + 48), Is.EqualTo(0x8000_0000_0000_0000ul), "ST(1) = 1, slot 16 bytes on");
            Assert.That(m.Memory.Read16(Image + 56), Is.EqualTo((ushort)0x3FFF));
            Assert.That(m.Cpu.Fpu.Top, Is.EqualTo(6), "unlike FSAVE, the state stays");
            Assert.That(m.Cpu.Fpu.St(1), Is.EqualTo(Float80.One));
        }
    }

    [Test]
    public void Fxrstor_BringsBackWhatFxsaveWrote_TagsFromTheContents()
    {
        var (m, t, stop) = Run(a =>
        {
            a.fninit();
            a.mov(__word_ptr[Data], 0x0C7F); // round toward zero
            a.fldcw(__word_ptr[Data]);
            a.fld1();
            a.fldpi();
            a.fldz();
            a.fxsave(__[Image]);
            a.fninit();
            a.fxrstor(__[Image]);
            a.fnstenv(__[Data]); // the full tag word, as FSTENV computes it
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Fpu.ControlWord, Is.EqualTo((ushort)0x0C7F));
            Assert.That(m.Cpu.Fpu.Top, Is.EqualTo(5));
            Assert.That(m.Cpu.Fpu.St(0), Is.EqualTo(Float80.PositiveZero));
            Assert.That(m.Cpu.Fpu.St(2), Is.EqualTo(Float80.One));
            // Physical 5 zero (01), 6 valid (00), 7 valid (00), the rest empty (11).
            Assert.That(m.Memory.Read16(Data + 8), Is.EqualTo((ushort)0x07FF));
        }
    }

    [Test]
    public void Fxrstor_TakesOnlyEmptyOrNotFromTheAbridgedByte()
    {
        var (m, t, stop) = Run(a =>
        {
            a.fninit();
            a.fxsave(__[Image]); // all empty
            a.mov(__byte_ptr[Image + 4], 0x01); // physical 0 in use...
            a.mov(__dword_ptr[Image + 32], 0); // ...holding +0 (ST(0) with TOP 0)
            a.mov(__dword_ptr[Image + 36], 0);
            a.mov(__word_ptr[Image + 40], 0);
            a.fxrstor(__[Image]);
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Fpu.TagWord, Is.EqualTo((ushort)0xFFFD), "physical 0 tagged zero from its contents");
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AnAddressNotSixteenByteAligned_IsGeneralProtection(bool save)
    {
        var (m, t, stop) = Run(a =>
        {
            a.fninit();
            if (save)
                a.fxsave(__[Image + 8]);
            else
                a.fxrstor(__[Image + 8]);
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(0), Is.Zero, "error code 0");
        }
    }

    [TestCase(CR0_EM)]
    [TestCase(CR0_TS)]
    public void UnderEmOrTs_IsDeviceNotAvailable(uint bit)
    {
        var (m, t, stop) = Run(a => a.fxsave(__[Image]), cr0: bit);
        using (m)
            t.AssertHaltedIn(Vectors.NM, stop);
    }

    [Test]
    public void WhileCpuidDoesNotReportFxsr_IsInvalidOpcode()
    {
        var (m, t, stop) = Run(a => a.fxsave(__[Image]), fxsr: false);
        using (m)
        {
            t.AssertHaltedIn(Vectors.UD, stop);
            Assert.That(m.Cpu.FeatureFlags & FeatureFxsr, Is.Zero, "the default CPU model does not report FXSR");
        }
    }
}

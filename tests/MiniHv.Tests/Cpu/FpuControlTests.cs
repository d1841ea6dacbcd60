using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Cpu.Fpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// CR0.EM/MP/TS/NE around x87 instructions (#NM, #MF, FERR#), the FPU hidden from CPUID (#UD), and the
/// control instructions: FLDCW, FNCLEX, FSTENV/FLDENV and FSAVE/FRSTOR in their 16- and 32-bit layouts.
/// </summary>
public class FpuControlTests
{
    private const uint Data = 0x9000;

    private static (TestMachine M, SystemTables T, StopReason Stop) RunKernel(Action<Assembler> code, Action<TestMachine>? setup = null)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        setup?.Invoke(m);
        var stop = m.Run(a =>
        {
            code(a);
            a.hlt();
        });
        return (m, t, stop);
    }

    [TestCase(CR0_EM, TestName = "X87WithCr0Em_RaisesNm")]
    [TestCase(CR0_TS, TestName = "X87WithCr0Ts_RaisesNm")]
    public void X87_WithEmOrTs_RaisesDeviceNotAvailable_AtTheInstruction(uint bit)
    {
        var (m, t, stop) = RunKernel(a => a.fld1(), m => m.Cpu.Cr0 |= bit);
        using (m)
        {
            t.AssertHaltedIn(Vectors.NM, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase));
            Assert.That(m.Cpu.Fpu.Top, Is.Zero, "nothing was pushed");
        }
    }

    [TestCase(CR0_TS | CR0_MP, true)]
    [TestCase(CR0_TS, false)]
    [TestCase(CR0_EM | CR0_MP, false)]
    public void Wait_RaisesNm_OnlyWithTsAndMp(uint bits, bool faults)
    {
        var (m, t, stop) = RunKernel(a => a.wait(), m => m.Cpu.Cr0 |= bits);
        using (m)
        {
            if (faults)
                t.AssertHaltedIn(Vectors.NM, stop);
            else
                Assert.That(t.HaltedInVector(), Is.EqualTo(-1), "WAIT ran");
        }
    }

    [TestCase(new byte[] { 0xD9, 0xE8 }, TestName = "X87Fld1_WithTheFpuHidden_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xDB, 0xE3 }, TestName = "X87Fninit_WithTheFpuHidden_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xDF, 0xE0 }, TestName = "X87FnstswAx_WithTheFpuHidden_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xD9, 0x00 }, TestName = "X87FldFromMemory_WithTheFpuHidden_RaisesInvalidOpcode")]
    [TestCase(new byte[] { 0xDA, 0xC1 }, TestName = "X87Fcmovb_WithTheFpuHidden_RaisesInvalidOpcode")]
    public void X87_WithTheFpuHidden_RaisesUd_AndWithEm_RaisesNm(byte[] bytes)
    {
        foreach (var (cr0, vector) in new[] { (0u, Vectors.UD), (CR0_EM, Vectors.NM) })
        {
            var (m, t, stop) = RunKernel(a =>
            {
                a.mov(eax, Data);
                a.db(bytes);
            }, m =>
            {
                m.Cpu.FeatureFlags &= ~FeatureFpu;
                m.Cpu.Cr0 |= cr0;
            });
            using (m)
            {
                t.AssertHaltedIn(vector, stop);
                Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 5));
            }
        }
    }

    [Test]
    public void CpuidWithTheFpuHidden_ReportsNoFpu()
    {
        var (m, _, _) = RunKernel(a =>
        {
            a.mov(eax, 1);
            a.cpuid();
        }, m => m.Cpu.FeatureFlags &= ~FeatureFpu);
        using (m)
            Assert.That(m.Cpu.Edx & 1, Is.Zero);
    }

    private static void UnmaskZeroDivideAndDivide(Assembler a)
    {
        a.fninit();
        a.fldcw(__word_ptr[Data]);
        a.fld1();
        a.fldz();
        a.fdivp(st1, st0); // unmasked ZE: no result, no pop
        a.mov(ebx, 0x1234); // not an x87 instruction: runs
    }

    [Test]
    public void UnmaskedException_WithNe_RaisesMf_AtTheNextWaitingInstruction()
    {
        var (m, t, stop) = RunKernel(a =>
        {
            UnmaskZeroDivideAndDivide(a);
            a.fnstsw(ax); // non-waiting: runs
            a.wait();
        }, m =>
        {
            m.Memory.Write16(Data, 0x037B);
            m.Cpu.Cr0 |= CR0_NE;
        });
        using (m)
        {
            t.AssertHaltedIn(Vectors.MF, stop);
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1234u));
            Assert.That(m.Cpu.Eax & 0x80FF, Is.EqualTo(0x8084u), "B, ES and ZE");
            var f = m.Cpu.Fpu;
            Assert.That(f.Top, Is.EqualTo(6), "the divide did not pop");
            Assert.That(f.St(1), Is.EqualTo(Float80.One), "ST(1) unchanged");
            Assert.That(f.LastOpcode, Is.EqualTo((ushort)0x6F9), "FOP of DE F9 (fdivp st1, st0)");
        }
    }

    [Test]
    public void UnmaskedException_WithoutNe_SignalsFerr_AndExecutionGoesOn()
    {
        int signals = 0;
        var (m, t, stop) = RunKernel(a =>
        {
            UnmaskZeroDivideAndDivide(a);
            a.wait();
            a.fld1();
        }, m =>
        {
            m.Memory.Write16(Data, 0x037B);
            m.Cpu.FpuErrorSignal = () => signals++;
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(signals, Is.EqualTo(1), "one FERR# assertion for the one error");
        }
    }

    [Test]
    public void Fnclex_ClearsThePendingError()
    {
        var (m, t, stop) = RunKernel(a =>
        {
            UnmaskZeroDivideAndDivide(a);
            a.fnclex();
            a.wait();
            a.fnstsw(ax);
        }, m =>
        {
            m.Memory.Write16(Data, 0x037B);
            m.Cpu.Cr0 |= CR0_NE;
        });
        using (m)
        {
            Assert.That(t.HaltedInVector(), Is.EqualTo(-1));
            Assert.That(m.Cpu.Eax & 0x80FF, Is.Zero);
        }
    }

    [Test]
    public void Fldcw_UnmaskingAPendingFlag_MakesTheNextWaitingInstructionFault()
    {
        var (m, t, stop) = RunKernel(a =>
        {
            a.fninit();
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0); // masked: infinity, ZE set
            a.fldcw(__word_ptr[Data]);
            a.fld1();
        }, m =>
        {
            m.Memory.Write16(Data, 0x037B);
            m.Cpu.Cr0 |= CR0_NE;
        });
        using (m)
            t.AssertHaltedIn(Vectors.MF, stop);
    }

    [Test]
    public void FsaveFrstor32_RoundTripsTheWholeState_AndFsaveReinitialises()
    {
        using var m = Exec.Code(a =>
        {
            a.fninit();
            a.fldpi();
            a.fld1();
            a.fldcw(__word_ptr[Data + 512]);
            a.fnsave(__[Data]);
            a.fnstcw(__word_ptr[Data + 520]);
            a.frstor(__[Data]);
            a.fstp(__tword_ptr[Data + 528]);
        }, 0x2);
        Assert.That(m.Memory.Read16(Data + 520), Is.EqualTo((ushort)0x037F), "FSAVE ends with FNINIT");
        Assert.That(m.Memory.Read16(Data + 0), Is.EqualTo((ushort)0x0000 | 0x0040), "saved control word (all masks clear, bit 6 reads 1)");
        Assert.That(m.Memory.Read16(Data + 4) >> 11 & 7, Is.EqualTo(6), "saved TOP");
        Assert.That(m.Memory.Read16(Data + 8), Is.EqualTo((ushort)0x0FFF), "tags: R6, R7 valid, the rest empty");
        Assert.That(m.Memory.Read64(Data + 28), Is.EqualTo(0x8000_0000_0000_0000ul), "ST(0) = 1 first");
        Assert.That(m.Memory.Read64(Data + 38), Is.EqualTo(0xC90F_DAA2_2168_C235ul), "then ST(1) = pi");
        Assert.That(m.Memory.Read64(Data + 528), Is.EqualTo(0x8000_0000_0000_0000ul), "FRSTOR brought ST(0) back");
        Assert.That(m.Cpu.Fpu.ControlWord, Is.EqualTo((ushort)0x0040));
        Assert.That(m.Cpu.Fpu.Top, Is.EqualTo(7));
    }

    [Test]
    public void Fnstenv32_RecordsTheLastInstructionAndOperand_AndMasksEverything()
    {
        using var m = Exec.Code(a =>
        {
            a.fninit();
            a.fld(__qword_ptr[ebx + 8]);
            a.fnstenv(__[Data + 256]);
            a.fnstcw(__word_ptr[Data + 300]);
        }, 0x2);
        uint fldAddress = TestMachine.CodeBase + 2;
        Assert.That(m.Memory.Read32(Data + 256 + 12), Is.EqualTo(fldAddress), "FIP");
        Assert.That(m.Memory.Read16(Data + 256 + 16), Is.EqualTo((ushort)0x08), "FCS");
        Assert.That(m.Memory.Read16(Data + 256 + 18), Is.EqualTo((ushort)0x543), "FOP of DD 43 08");
        Assert.That(m.Memory.Read32(Data + 256 + 20), Is.EqualTo(8u), "FDP: the offset EBX + 8");
        Assert.That(m.Memory.Read16(Data + 256 + 24), Is.EqualTo((ushort)0x10), "FDS");
        Assert.That(m.Memory.Read16(Data + 300), Is.EqualTo((ushort)0x037F));
    }

    [Test]
    public void Fsave16_UsesTheFourteenByteEnvironment()
    {
        using var m = Exec.Code(a =>
        {
            a.fninit();
            a.fld1();
            a.db(0x66); // operand-size prefix: the 16-bit layout
            a.fnsave(__[Data]);
            a.db(0x66);
            a.frstor(__[Data]);
            a.fstp(__tword_ptr[Data + 200]);
        }, 0x2);
        Assert.That(m.Memory.Read16(Data + 2) >> 11 & 7, Is.EqualTo(7), "status word at offset 2");
        Assert.That(m.Memory.Read16(Data + 4), Is.EqualTo((ushort)0x3FFF), "tag word at offset 4");
        Assert.That(m.Memory.Read64(Data + 14), Is.EqualTo(0x8000_0000_0000_0000ul), "registers from offset 14");
        Assert.That(m.Memory.Read64(Data + 200), Is.EqualTo(0x8000_0000_0000_0000ul));
    }
}

/// <summary>Every x87 opcode byte pair, in both operand sizes, runs to a guest outcome: no host exception escapes.</summary>
public class FpuOpcodeSweepTests
{
    [Test]
    public void EveryEscapeOpcode_RunsOrFaults_WithoutAHostException()
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        using (m)
        {
            int ran = 0;
            foreach (bool prefix in new[] { false, true })
            {
                for (int escape = 0xD8; escape <= 0xDF; escape++)
                {
                    for (int modrm = 0; modrm < 256; modrm++)
                    {
                        var bytes = new List<byte>();
                        if (prefix)
                            bytes.Add(0x66);
                        bytes.AddRange(new[] { (byte)escape, (byte)modrm, (byte)0x10, (byte)0x90, (byte)0x00, (byte)0x00, (byte)0xF4 });
                        m.Memory.Write(TestMachine.CodeBase, bytes.ToArray());
                        m.Cpu.FlushCodeCache();
                        m.Cpu.AbortBlock = false;
                        m.Cpu.Wake();
                        m.Cpu.Eip = TestMachine.CodeBase;
                        m.Cpu.Esp = 0x80000;
                        m.Cpu.Eax = m.Cpu.Ebx = m.Cpu.Ecx = m.Cpu.Edx = m.Cpu.Esi = m.Cpu.Edi = m.Cpu.Ebp = 0x9000;
                        m.Cpu.Run(2);
                        ran++;
                    }
                }
            }

            Assert.That(ran, Is.EqualTo(4096));
            Assert.That(m.Cpu.Fpu.Top, Is.InRange(0, 7));
        }
    }
}

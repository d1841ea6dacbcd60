using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The CPU with its FPU hidden (<c>--cpu-features no-fpu</c>), as a math-emulating kernel expects it: x87 instructions
/// raise #NM under CR0.EM or CR0.TS (so Linux's math-emu or a lazy FPU switch gets control) and #UD otherwise; WAIT
/// raises #NM under CR0.TS with CR0.MP; and the MSRs of the Pentium CPUID reports are there, the P6's are not.
/// </summary>
public class NoFpuTests
{
    private static (TestMachine M, SystemTables T, StopReason Stop) RunKernel(uint cr0Bits, Action<Assembler> code)
    {
        var m = new TestMachine();
        var t = new SystemTables(m);
        m.Cpu.FeatureFlags &= ~1u; // CPUID's FPU bit: no x87 unit
        m.Cpu.Cr0 |= cr0Bits;
        var stop = m.Run(a =>
        {
            a.mov(eax, 0x9000);                 // 5 bytes: the instruction under test starts at CodeBase + 5
            code(a);
            a.hlt();
        });
        return (m, t, stop);
    }

    private static void AssertFaultAtTheInstruction(int vector, uint cr0Bits, Action<Assembler> code, uint eipOffset = 0)
    {
        var (m, t, stop) = RunKernel(cr0Bits, code);
        using (m)
        {
            t.AssertHaltedIn(vector, stop);
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 5 + eipOffset), "EIP of the instruction, no error code below it");
        }
    }

    // FSTSW is WAIT then FNSTSW: without CR0.TS and CR0.MP both set the WAIT goes by and FNSTSW, a byte on, faults.
    private static readonly (string Name, Action<Assembler> Code, uint EipOffset)[] X87 =
    [
        ("fld1", a => a.fld1(), 0),
        ("fninit", a => a.fninit(), 0),
        ("fnstsw ax", a => a.fnstsw(ax), 0),
        ("fld dword [eax]", a => a.fld(__dword_ptr[eax]), 0),
        ("fdiv st0, st1", a => a.fdiv(st0, st1), 0),
        ("fstsw ax (WAIT, FNSTSW)", a => a.fstsw(ax), 1),
    ];

    [Test]
    public void X87_UnderCr0Em_RaisesDeviceNotAvailable()
    {
        foreach (var (name, code, offset) in X87)
            Assert.DoesNotThrow(() => AssertFaultAtTheInstruction(Vectors.NM, Cr0Em, code, offset), name);
    }

    [Test]
    public void X87_UnderCr0Ts_RaisesDeviceNotAvailable()
    {
        foreach (var (name, code, offset) in X87)
            Assert.DoesNotThrow(() => AssertFaultAtTheInstruction(Vectors.NM, Cr0Ts, code, offset), name);
    }

    [Test]
    public void X87_WithoutEmOrTs_RaisesInvalidOpcode_ThereIsNoFpu()
    {
        foreach (var (name, code, offset) in X87)
            Assert.DoesNotThrow(() => AssertFaultAtTheInstruction(Vectors.UD, Cr0Mp, code, offset), name);
    }

    [Test]
    public void FstswUnderTsAndMp_FaultsAtItsWait()
        => AssertFaultAtTheInstruction(Vectors.NM, Cr0Ts | Cr0Mp, a => a.fstsw(ax));

    [Test]
    public void Wait_UnderTsAndMp_RaisesDeviceNotAvailable()
        => AssertFaultAtTheInstruction(Vectors.NM, Cr0Ts | Cr0Mp, a => a.wait());

    [TestCase(0u, TestName = "Wait_WithoutTs_IsANoOp")]
    [TestCase(Cr0Ts, TestName = "Wait_UnderTsWithoutMp_IsANoOp")]
    [TestCase(Cr0Em | Cr0Mp, TestName = "Wait_UnderEmAndMp_IsANoOp")]
    public void Wait_IsANoOp(uint cr0Bits)
    {
        var (m, _, stop) = RunKernel(cr0Bits, a =>
        {
            a.wait();
            a.mov(ebx, 0x1234);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x1234u), "ran on past the WAIT");
            Assert.That(m.Cpu.LastFault, Is.Null);
        }
    }

    [TestCase(0x8Bu, TestName = "Rdmsr_MicrocodeSignature_IsAbsentOnAPentium")]
    [TestCase(0x186u, TestName = "Rdmsr_P6PerfEventSelect_IsAbsentOnAPentium")]
    public void Rdmsr_OfAP6Msr_RaisesGeneralProtection(uint msr)
        => AssertGeneralProtectionAt(5, a =>
        {
            a.mov(ecx, msr);
            a.rdmsr();
        });

    [Test]
    public void Wrmsr_MicrocodeSignature_RaisesGeneralProtection()
        => AssertGeneralProtectionAt(7, a =>
        {
            a.mov(ecx, 0x8B);
            a.xor(edx, edx);
            a.wrmsr();
        });

    [Test]
    public void Wrmsr_Tsc_SetsTheCounterThatRdtscReads()
    {
        var (m, _, stop) = RunKernel(0, a =>
        {
            a.mov(ecx, 0x10);
            a.mov(edx, 5);
            a.mov(eax, 0x100);
            a.wrmsr();
            a.rdtsc();
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Edx, Is.EqualTo(5u));
            Assert.That(m.Cpu.Eax, Is.InRange(0x100u, 0x110u), "a few instructions on from the value written");
        }
    }

    private const uint Cr0Mp = MiniHv.Cpu.Cpu.CR0_MP, Cr0Em = MiniHv.Cpu.Cpu.CR0_EM, Cr0Ts = MiniHv.Cpu.Cpu.CR0_TS;

    private static void AssertGeneralProtectionAt(int faultOffset, Action<Assembler> code)
    {
        var (m, t, stop) = RunKernel(0, code);
        using (m)
        {
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(1), Is.EqualTo(TestMachine.CodeBase + 5 + (uint)faultOffset), "EIP of the RDMSR/WRMSR below the error code 0");
            Assert.That(t.Stack(0), Is.Zero, "error code");
        }
    }
}

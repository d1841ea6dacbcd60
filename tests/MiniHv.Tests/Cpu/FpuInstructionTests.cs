using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Cpu.Fpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>x87 loads, stores, arithmetic, compares and the one-operand instructions, run as guest code.</summary>
public class FpuInstructionTests
{
    private const uint Data = 0x9000;

    private static double Double(TestMachine m, uint address) => BitConverter.Int64BitsToDouble((long)m.Memory.Read64(address));

    private static void PutDouble(TestMachine m, uint address, double v) => m.Memory.Write64(address, (ulong)BitConverter.DoubleToInt64Bits(v));

    /// <summary>Run code with the data area prepared by <paramref name="data"/>.</summary>
    private static TestMachine Run(Action<TestMachine> data, Action<Assembler> code)
    {
        var m = new TestMachine();
        data(m);
        var stop = m.Run(a =>
        {
            a.fninit();
            code(a);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"EIP {m.Cpu.Eip:x8}, last fault {m.Cpu.LastFault}");
        return m;
    }

    [Test]
    public void FldFaddFstp_AddsDoublesFromMemory()
    {
        using var m = Run(m => { PutDouble(m, Data, 1.5); PutDouble(m, Data + 8, 2.25); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fadd(__qword_ptr[Data + 8]);
            a.fstp(__qword_ptr[Data + 16]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(3.75));
        Assert.That(m.Cpu.Fpu.Top, Is.Zero, "the stack is empty again");
        Assert.That(m.Cpu.Fpu.TagWord, Is.EqualTo(0xFFFF));
    }

    [Test]
    public void RegisterForms_SubtractAndDivideInTheDirectionTheirNamesSay()
    {
        using var m = Run(m => { PutDouble(m, Data, 10); PutDouble(m, Data + 8, 4); }, a =>
        {
            a.fld(__qword_ptr[Data]); // st1 after the next load
            a.fld(__qword_ptr[Data + 8]); // st0 = 4
            a.fsub(st1, st0); // st1 = 10 - 4 = 6
            a.fdivr(st0, st1); // st0 = 6 / 4 = 1.5
            a.fstp(__qword_ptr[Data + 16]);
            a.fld(__qword_ptr[Data + 8]);
            a.fsubrp(st1, st0); // st1 = 4 - 6 = -2, popped
            a.fstp(__qword_ptr[Data + 24]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(1.5));
        Assert.That(Double(m, Data + 24), Is.EqualTo(-2.0));
    }

    [TestCase((ushort)0x037F, 2)]
    [TestCase((ushort)0x077F, 2)]
    [TestCase((ushort)0x0B7F, 3)]
    [TestCase((ushort)0x0F7F, 2)]
    public void Fistp_RoundsByTheControlWord(ushort cw, int expected)
    {
        using var m = Run(m => { PutDouble(m, Data, 2.5); m.Memory.Write16(Data + 8, cw); }, a =>
        {
            a.fldcw(__word_ptr[Data + 8]);
            a.fld(__qword_ptr[Data]);
            a.fistp(__dword_ptr[Data + 16]);
            a.fnstsw(ax);
        });
        Assert.That((int)m.Memory.Read32(Data + 16), Is.EqualTo(expected));
        Assert.That(m.Cpu.Eax & 0x20, Is.EqualTo(0x20u), "PE");
        Assert.That((m.Cpu.Eax & FpuState.SwC1) != 0, Is.EqualTo(expected == 3), "C1: rounded up");
    }

    [Test]
    public void PrecisionControl_RoundsSumsToSinglePrecision()
    {
        using var m = Run(m => { PutDouble(m, Data, 1.0); PutDouble(m, Data + 8, Math.Pow(2, -30)); m.Memory.Write16(Data + 16, 0x007F); }, a =>
        {
            a.fldcw(__word_ptr[Data + 16]);
            a.fld(__qword_ptr[Data]);
            a.fadd(__qword_ptr[Data + 8]);
            a.fstp(__qword_ptr[Data + 24]);
        });
        Assert.That(Double(m, Data + 24), Is.EqualTo(1.0), "24-bit significand drops 2^-30");
    }

    [TestCase(1.0, 2.0, FpuState.SwC0)]
    [TestCase(2.0, 2.0, FpuState.SwC3)]
    [TestCase(3.0, 2.0, (ushort)0)]
    [TestCase(double.NaN, 2.0, (ushort)(FpuState.SwC0 | FpuState.SwC2 | FpuState.SwC3))]
    public void Fcom_SetsC3C2C0_AndSahfMakesThemFlags(double x, double y, ushort cc)
    {
        using var m = Run(m => { PutDouble(m, Data, x); PutDouble(m, Data + 8, y); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fcomp(__qword_ptr[Data + 8]);
            a.fnstsw(ax);
        });
        Assert.That(m.Cpu.Eax & FpuState.SwConditionCodes, Is.EqualTo((uint)cc));
        Assert.That(m.Cpu.Eax & 1, Is.EqualTo(double.IsNaN(x) ? 1u : 0u), "FCOM raises IE for a QNaN");
    }

    [TestCase(1.0, 2.0, CF)]
    [TestCase(2.0, 2.0, ZF)]
    [TestCase(3.0, 2.0, 0u)]
    [TestCase(double.NaN, 2.0, ZF | PF | CF)]
    public void Fucomip_SetsZfPfCf_AndPops(double x, double y, uint flags)
    {
        using var m = Run(m => { PutDouble(m, Data, x); PutDouble(m, Data + 8, y); }, a =>
        {
            a.fld(__qword_ptr[Data + 8]);
            a.fld(__qword_ptr[Data]);
            a.fucomip(st0, st1);
            a.fnstsw(ax);
        });
        Assert.That(m.Cpu.Eflags & (ZF | PF | CF | OF | SF | AF), Is.EqualTo(flags));
        Assert.That(m.Cpu.Eax & 1, Is.Zero, "FUCOMI raises nothing for a QNaN");
        Assert.That(m.Cpu.Fpu.Top, Is.EqualTo(7), "one popped, one left");
    }

    [Test]
    public void Fcmov_MovesOnlyWhenTheConditionHolds()
    {
        using var m = Run(m => { PutDouble(m, Data, 1.0); PutDouble(m, Data + 8, 2.0); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fld(__qword_ptr[Data + 8]); // st0 = 2, st1 = 1
            a.stc();
            a.fcmovnb(st0, st1); // CF set: no move
            a.fst(__qword_ptr[Data + 16]);
            a.fcmovb(st0, st1); // moves 1
            a.fstp(__qword_ptr[Data + 24]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(2.0));
        Assert.That(Double(m, Data + 24), Is.EqualTo(1.0));
    }

    [Test]
    public void Constants_AndIntegerLoads()
    {
        using var m = Run(m => { m.Memory.Write16(Data, 0xFFF9); m.Memory.Write64(Data + 8, 0x7FFF_FFFF_FFFF_FFFF); }, a =>
        {
            a.fldpi();
            a.fstp(__qword_ptr[Data + 16]);
            a.fldl2e();
            a.fstp(__qword_ptr[Data + 24]);
            a.fild(__word_ptr[Data]);
            a.fstp(__qword_ptr[Data + 32]);
            a.fild(__qword_ptr[Data + 8]);
            a.fistp(__qword_ptr[Data + 40]);
            a.fld1();
            a.fldz();
            a.fsubp(st1, st0);
            a.fstp(__qword_ptr[Data + 48]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(Math.PI));
        Assert.That(Double(m, Data + 24), Is.EqualTo(Math.Log2(Math.E)));
        Assert.That(Double(m, Data + 32), Is.EqualTo(-7.0));
        Assert.That(m.Memory.Read64(Data + 40), Is.EqualTo(0x7FFF_FFFF_FFFF_FFFFul), "64-bit integers are exact");
        Assert.That(Double(m, Data + 48), Is.EqualTo(1.0));
    }

    [Test]
    public void Fldpi_RoundsByTheRoundingControl()
    {
        using var m = Run(m => m.Memory.Write16(Data, 0x0B7F), a =>
        {
            a.fldpi();
            a.fstp(__tword_ptr[Data + 16]);
            a.fldcw(__word_ptr[Data]);
            a.fldpi();
            a.fstp(__tword_ptr[Data + 32]);
        });
        Assert.That(m.Memory.Read64(Data + 16), Is.EqualTo(0xC90F_DAA2_2168_C235ul), "nearest");
        Assert.That(m.Memory.Read64(Data + 32), Is.EqualTo(0xC90F_DAA2_2168_C235ul), "up");
        Assert.That(m.Memory.Read16(Data + 24), Is.EqualTo((ushort)0x4000));
    }

    [Test]
    public void SqrtRndintScaleXtractChsAbs()
    {
        using var m = Run(m => { PutDouble(m, Data, 2.0); PutDouble(m, Data + 8, 2.5); PutDouble(m, Data + 16, 3.0); PutDouble(m, Data + 24, -12.0); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fsqrt();
            a.fstp(__qword_ptr[Data + 32]);
            a.fld(__qword_ptr[Data + 8]);
            a.frndint();
            a.fstp(__qword_ptr[Data + 40]);
            a.fld(__qword_ptr[Data + 16]); // scale count
            a.fld(__qword_ptr[Data + 8]);
            a.fscale();
            a.fstp(__qword_ptr[Data + 48]);
            a.fstp(st0);
            a.fld(__qword_ptr[Data + 24]);
            a.fxtract(); // st0 = significand -1.5, st1 = exponent 3
            a.fabs();
            a.fstp(__qword_ptr[Data + 56]);
            a.fchs();
            a.fstp(__qword_ptr[Data + 64]);
        });
        Assert.That(Double(m, Data + 32), Is.EqualTo(Math.Sqrt(2.0)));
        Assert.That(Double(m, Data + 40), Is.EqualTo(2.0), "2.5 to even");
        Assert.That(Double(m, Data + 48), Is.EqualTo(20.0), "2.5 * 2^3");
        Assert.That(Double(m, Data + 56), Is.EqualTo(1.5));
        Assert.That(Double(m, Data + 64), Is.EqualTo(-3.0));
    }

    [Test]
    public void Fprem_LeavesTheQuotientsLowBitsInC0C3C1()
    {
        using var m = Run(m => { PutDouble(m, Data, 3.0); PutDouble(m, Data + 8, 23.0); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fld(__qword_ptr[Data + 8]);
            a.fprem(); // 23 = 7 * 3 + 2
            a.fnstsw(ax);
            a.fstp(__qword_ptr[Data + 16]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(2.0));
        uint sw = m.Cpu.Eax;
        Assert.That((sw & FpuState.SwC2) != 0, Is.False, "complete");
        Assert.That(((sw >> 8) & 1) << 2 | ((sw >> 14) & 1) << 1 | ((sw >> 9) & 1), Is.EqualTo(7u));
    }

    [Test]
    public void FbstpAndFbld_RoundTripPackedBcd()
    {
        using var m = Run(m => PutDouble(m, Data, -1234567.5), a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fbstp(__tword_ptr[Data + 16]);
            a.fbld(__tword_ptr[Data + 16]);
            a.fstp(__qword_ptr[Data + 32]);
        });
        Assert.That(m.Memory.Read32(Data + 16), Is.EqualTo(0x0123_4568u), "rounded to even, BCD digits");
        Assert.That(m.Memory.Read8(Data + 25), Is.EqualTo((byte)0x80), "sign byte");
        Assert.That(Double(m, Data + 32), Is.EqualTo(-1234568.0));
    }

    [Test]
    public void Fxam_ClassifiesEmptyZeroDenormalAndInfinity()
    {
        using var m = Run(m => { PutDouble(m, Data, double.Epsilon); PutDouble(m, Data + 8, double.NegativeInfinity); }, a =>
        {
            a.fxam();
            a.fnstsw(ax);
            a.mov(ebx, eax);
            a.fld(__qword_ptr[Data]);
            a.fxam();
            a.fnstsw(ax);
            a.mov(ecx, eax);
            a.fld(__qword_ptr[Data + 8]);
            a.fxam();
            a.fnstsw(ax);
        });
        Assert.That(m.Cpu.Ebx & FpuState.SwConditionCodes & ~FpuState.SwC1, Is.EqualTo((uint)(FpuState.SwC3 | FpuState.SwC0)), "empty");
        Assert.That(m.Cpu.Ecx & FpuState.SwConditionCodes, Is.EqualTo((uint)FpuState.SwC2), "a double denormal loads as a normal extended value");
        Assert.That(m.Cpu.Eax & FpuState.SwConditionCodes, Is.EqualTo((uint)(FpuState.SwC2 | FpuState.SwC0 | FpuState.SwC1)), "negative infinity");
        Assert.That(m.Cpu.Eax & 2, Is.EqualTo(2u), "loading the double denormal raised DE");
    }

    [Test]
    public void NinthPush_IsAStackOverflow_WithTheIndefiniteAndC1()
    {
        using var m = Run(_ => { }, a =>
        {
            for (int k = 0; k < 9; k++)
                a.fld1();
            a.fnstsw(ax);
            a.fstp(__tword_ptr[Data]);
        });
        Assert.That(m.Cpu.Eax & 0x41, Is.EqualTo(0x41u), "IE and SF");
        Assert.That(m.Cpu.Eax & FpuState.SwC1, Is.EqualTo((uint)FpuState.SwC1), "C1: overflow");
        Assert.That(m.Memory.Read64(Data), Is.EqualTo(0xC000_0000_0000_0000ul));
        Assert.That(m.Memory.Read16(Data + 8), Is.EqualTo((ushort)0xFFFF));
    }

    [Test]
    public void StoreFromAnEmptyStack_IsAnUnderflow_StoringTheIndefinite()
    {
        using var m = Run(_ => { }, a =>
        {
            a.fstp(__qword_ptr[Data]);
            a.fist(__word_ptr[Data + 8]);
            a.fnstsw(ax);
        });
        Assert.That(m.Memory.Read64(Data), Is.EqualTo(0xFFF8_0000_0000_0000ul));
        Assert.That(m.Memory.Read16(Data + 8), Is.EqualTo((ushort)0x8000));
        Assert.That(m.Cpu.Eax & 0x241, Is.EqualTo(0x41u), "IE, SF, C1 clear: underflow");
    }

    [Test]
    public void Fxch_SwapsTheTopTwo()
    {
        using var m = Run(m => { PutDouble(m, Data, 1.0); PutDouble(m, Data + 8, 2.0); }, a =>
        {
            a.fld(__qword_ptr[Data]);
            a.fld(__qword_ptr[Data + 8]);
            a.fxch(st0, st1);
            a.fstp(__qword_ptr[Data + 16]);
            a.fstp(__qword_ptr[Data + 24]);
        });
        Assert.That(Double(m, Data + 16), Is.EqualTo(1.0));
        Assert.That(Double(m, Data + 24), Is.EqualTo(2.0));
    }

    [Test]
    public void SingleAndExtendedMemoryFormats()
    {
        using var m = Run(m => m.Memory.Write32(Data, BitConverter.SingleToUInt32Bits(0.1f)), a =>
        {
            a.fld(__dword_ptr[Data]);
            a.fld(st0);
            a.fstp(__tword_ptr[Data + 16]);
            a.fstp(__qword_ptr[Data + 32]);
            a.fld(__tword_ptr[Data + 16]);
            a.fmul(st0, st0);
            a.fstp(__dword_ptr[Data + 48]);
        });
        Assert.That(Double(m, Data + 32), Is.EqualTo((double)0.1f));
        Assert.That(BitConverter.UInt32BitsToSingle(m.Memory.Read32(Data + 48)), Is.EqualTo((float)((double)0.1f * 0.1f)));
    }
}

/// <summary>FSIN, FCOS, FSINCOS and FPTAN as QEMU 7.2 computes them: through a host double, C2 beyond 2^63.</summary>
public class FpuTrigonometryTests
{
    private const uint Data = 0x9000;

    private static void PutDouble(Assembler a, double v)
    {
        ulong bits = (ulong)BitConverter.DoubleToInt64Bits(v);
        a.mov(__dword_ptr[Data], (uint)bits);
        a.mov(__dword_ptr[Data + 4], (uint)(bits >> 32));
    }

    [Test]
    public void SinCosTan_GiveTheHostDoubleResults_AndFptanPushesOne()
    {
        using var m = Exec.Code(a =>
        {
            PutDouble(a, 0.5);
            a.fninit();
            a.fld(__qword_ptr[Data]);
            a.fsincos(); // st0 = cos, st1 = sin
            a.fstp(__qword_ptr[Data + 8]);
            a.fstp(__qword_ptr[Data + 16]);
            a.fld(__qword_ptr[Data]);
            a.fptan(); // st0 = 1, st1 = tan
            a.fstp(__qword_ptr[Data + 24]);
            a.fstp(__qword_ptr[Data + 32]);
            a.fnstsw(ax);
        });
        double Read(uint at) => BitConverter.Int64BitsToDouble((long)m.Memory.Read64(at));
        Assert.That(Read(Data + 8), Is.EqualTo(Math.Cos(0.5)));
        Assert.That(Read(Data + 16), Is.EqualTo(Math.Sin(0.5)));
        Assert.That(Read(Data + 24), Is.EqualTo(1.0));
        Assert.That(Read(Data + 32), Is.EqualTo(Math.Tan(0.5)));
        Assert.That(m.Cpu.Eax & 0x400, Is.Zero, "C2 clear: in range");
    }

    [Test]
    public void Fsin_BeyondTwoToThe63_SetsC2_AndLeavesTheOperand()
    {
        using var m = Exec.Code(a =>
        {
            PutDouble(a, 1e19);
            a.fninit();
            a.fld(__qword_ptr[Data]);
            a.fsin();
            a.fnstsw(ax);
            a.fstp(__qword_ptr[Data + 8]);
        });
        Assert.That(m.Cpu.Eax & 0x400, Is.EqualTo(0x400u));
        Assert.That(BitConverter.Int64BitsToDouble((long)m.Memory.Read64(Data + 8)), Is.EqualTo(1e19));
    }
}

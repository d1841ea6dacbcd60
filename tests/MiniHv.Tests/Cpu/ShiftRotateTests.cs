using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// SHL/SAL/SHR/SAR/ROL/ROR/RCL/RCR/SHLD/SHRD with counts 0, 1, 31 and above 31, in 8, 16 and
/// 32 bits. Only flags the manual defines are asserted, except where Cpu.Shift.cs documents a
/// QEMU-compatible choice for an undefined one (said so at the test).
/// </summary>
public class ShiftRotateTests
{
    // OF is defined for a count of 1 only; AF never.
    private const uint DefinedAtCount1 = CF | PF | ZF | SF | OF;
    private const uint DefinedAboveCount1 = CF | PF | ZF | SF;
    private const uint RotateFlags = CF | OF;
    private const uint AllButRotateFlags = PF | AF | ZF | SF;

    private static (uint Result, uint Flags) Shift(string op, uint value, byte count, bool carryIn = false, uint startFlags = 0)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, value);
            a.mov(ecx, count);
            a.SetFlags(0x2 | startFlags | (carryIn ? CF : 0));
            switch (op)
            {
                case "shl": a.shl(eax, cl); break;
                case "shr": a.shr(eax, cl); break;
                case "sar": a.sar(eax, cl); break;
                case "rol": a.rol(eax, cl); break;
                case "ror": a.ror(eax, cl); break;
                case "rcl": a.rcl(eax, cl); break;
                case "rcr": a.rcr(eax, cl); break;
                default: throw new ArgumentException(op);
            }
        });
        return (m.Cpu.Eax, m.Cpu.Eflags & Exec.ArithFlags);
    }

    private static void AssertFlags(uint actual, uint expected, uint mask)
        => Assert.That(Exec.Names(actual & mask), Is.EqualTo(Exec.Names(expected & mask)));

    [TestCase(0x80000001u, 1, 0x00000002u, CF | OF)]
    [TestCase(0x40000000u, 1, 0x80000000u, OF | SF | PF)]
    [TestCase(0xC0000000u, 1, 0x80000000u, CF | SF | PF)]
    [TestCase(0x80000001u, 33, 0x00000002u, CF | OF)]
    public void Shl_ByOne_SetsCarryFromTheTopBit_AndOverflowWhenTheSignChanges(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("shl", value, count);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAtCount1);
    }

    [TestCase(0x00000003u, 31, 0x80000000u, CF | SF | PF)]
    [TestCase(0x00000001u, 31, 0x80000000u, SF | PF)]
    [TestCase(0x0000F0F0u, 8, 0x00F0F000u, PF)]
    [TestCase(0xF0000000u, 4, 0u, CF | ZF | PF)]
    public void Shl_ByManyBits_CarriesTheLastBitShiftedOut(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("shl", value, count);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAboveCount1);
    }

    [Test]
    public void ShlOverflowAndAuxFlag_ForCountsAboveOne_FollowQemu()
    {
        // Undefined on Intel; Cpu.Shift.cs documents QEMU's choice: OF is the sign change of the
        // last one-bit step, AF is clear.
        var (_, f) = Shift("shl", 0x20000000, 2, startFlags: AF);
        Assert.That(f & (OF | AF), Is.EqualTo(OF));
    }

    [TestCase("shl")]
    [TestCase("shr")]
    [TestCase("sar")]
    [TestCase("rol")]
    [TestCase("ror")]
    [TestCase("rcl")]
    [TestCase("rcr")]
    public void CountOfZero_AndCountOf32_LeaveValueAndEveryFlag(string op)
    {
        const uint all = CF | PF | AF | ZF | SF | OF;
        foreach (byte count in new byte[] { 0, 32, 64 })
        {
            var (res, f) = Shift(op, 0x81234567, count, carryIn: true, startFlags: all);
            Assert.That(res, Is.EqualTo(0x81234567u), $"count {count}");
            Assert.That(f, Is.EqualTo(all), $"count {count}");
        }
    }

    [TestCase(0x80000001u, 1, 0x40000000u, CF | OF | PF)]
    [TestCase(0x00000002u, 1, 0x00000001u, 0u)]
    [TestCase(0x80000001u, 33, 0x40000000u, CF | OF | PF)]
    public void Shr_ByOne_SetsOverflowToTheOriginalSignBit(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("shr", value, count);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAtCount1);
    }

    [TestCase(0x80000000u, 31, 1u, 0u)]
    [TestCase(0xC0000000u, 31, 1u, CF)]
    [TestCase(0x40000000u, 31, 0u, CF | ZF | PF)]
    public void Shr_By31_LeavesTheTopBit_AndCarriesBit30(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("shr", value, count);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAboveCount1);
    }

    [TestCase(0x80000001u, 1, 0xC0000000u, CF | SF | PF)]
    [TestCase(0x7FFFFFFFu, 1, 0x3FFFFFFFu, CF | PF)]
    public void Sar_ByOne_KeepsTheSign_AndClearsOverflow(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("sar", value, count, startFlags: OF);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAtCount1);
    }

    [TestCase(0x80000000u, 31, 0xFFFFFFFFu, SF | PF)]
    [TestCase(0x7FFFFFFFu, 31, 0u, CF | ZF | PF)]
    [TestCase(0xFFFFFFF0u, 4, 0xFFFFFFFFu, SF | PF)]
    public void Sar_By31_FillsWithTheSign(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("sar", value, count);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, DefinedAboveCount1);
    }

    [TestCase(0x80000001u, 1, 0x00000003u, CF | OF)]
    [TestCase(0x40000000u, 1, 0x80000000u, OF)]
    [TestCase(0x12345678u, 4, 0x23456781u, CF)]
    [TestCase(0x12345678u, 36, 0x23456781u, CF)]
    [TestCase(0x00000002u, 31, 0x00000001u, CF)]
    public void Rol_RotatesAndCarriesTheNewLowBit_LeavingOtherFlags(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("rol", value, count, startFlags: AllButRotateFlags);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, count == 1 ? RotateFlags : CF);
        Assert.That(f & AllButRotateFlags, Is.EqualTo(AllButRotateFlags));
    }

    [TestCase(0x00000001u, 1, 0x80000000u, CF | OF)]
    [TestCase(0x00000003u, 1, 0x80000001u, CF | OF)]
    [TestCase(0x00000002u, 1, 0x00000001u, 0u)]
    [TestCase(0x12345678u, 4, 0x81234567u, CF)]
    [TestCase(0x80000000u, 31, 0x00000001u, 0u)]
    public void Ror_RotatesAndCarriesTheNewTopBit_LeavingOtherFlags(uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("ror", value, count, startFlags: AllButRotateFlags);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, count == 1 ? RotateFlags : CF);
        Assert.That(f & AllButRotateFlags, Is.EqualTo(AllButRotateFlags));
    }

    [TestCase(true, 0x80000000u, 1, 0x00000001u, CF | OF)]
    [TestCase(false, 0x40000000u, 1, 0x80000000u, OF)]
    [TestCase(true, 0x00000000u, 31, 0x40000000u, 0u)]
    [TestCase(false, 0x00000002u, 31, 0x00000000u, CF)]
    [TestCase(true, 0x80000000u, 33, 0x00000001u, CF | OF)]
    public void Rcl_RotatesThroughCarry_As33BitRing(bool cf, uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("rcl", value, count, carryIn: cf, startFlags: AllButRotateFlags);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, (count & 31) == 1 ? RotateFlags : CF);
        Assert.That(f & AllButRotateFlags, Is.EqualTo(AllButRotateFlags));
    }

    [TestCase(true, 0x00000001u, 1, 0x80000000u, CF | OF)]
    [TestCase(false, 0x80000000u, 1, 0x40000000u, OF)]
    [TestCase(false, 0x00000002u, 1, 0x00000001u, 0u)]
    [TestCase(true, 0x00000000u, 31, 0x00000002u, 0u)]
    [TestCase(false, 0x40000000u, 31, 0x00000000u, CF)]
    public void Rcr_RotatesThroughCarry_As33BitRing(bool cf, uint value, byte count, uint result, uint flags)
    {
        var (res, f) = Shift("rcr", value, count, carryIn: cf, startFlags: AllButRotateFlags);
        Assert.That(res, Is.EqualTo(result));
        AssertFlags(f, flags, count == 1 ? RotateFlags : CF);
        Assert.That(f & AllButRotateFlags, Is.EqualTo(AllButRotateFlags));
    }

    [Test]
    public void EightBitShifts_UseTheByteWidth_ForCarryAndCounts()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x11223381);
            a.shl(al, 1);               // 0x02, CF=1, OF=1
            a.SaveFlags(esi);
            a.mov(ebx, 0x000000C3);
            a.mov(cl, 8);
            a.shl(bl, cl);              // 0x00 (CF is undefined for a count >= the width)
            a.SaveFlags(edi);
            a.mov(edx, 0x000000F0);
            a.mov(cl, 9);
            a.sar(dl, cl);              // 0xFF, CF = sign
            a.SaveFlags(ebp);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x11223302u));
        AssertFlags(m.Cpu.Esi, CF | OF, DefinedAtCount1);
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0u));
        AssertFlags(m.Cpu.Edi, ZF | PF, ZF | PF | SF);
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xFFu));
        AssertFlags(m.Cpu.Ebp, CF | SF | PF, CF | SF | ZF | PF);
    }

    [Test]
    public void EightBitRotates_ByMultiplesOfTheWidth_StillSetCarry()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x00000081);
            a.mov(cl, 8);
            a.clc();
            a.rol(al, cl);              // value unchanged, CF = low bit = 1
            a.SaveFlags(esi);
            a.mov(ebx, 0x00000001);
            a.mov(cl, 16);
            a.clc();
            a.ror(bl, cl);              // value unchanged, CF = top bit = 0
            a.SaveFlags(edi);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x81u));
        Assert.That(m.Cpu.Esi & CF, Is.EqualTo(CF));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(1u));
        Assert.That(m.Cpu.Edi & CF, Is.EqualTo(0u));
    }

    [Test]
    public void EightAndSixteenBitRcl_CountModuloWidthPlusOne_IsNoRotation()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x0000005A);
            a.mov(cl, 9);
            a.stc();
            a.rcl(al, cl);              // 9 mod 9 = 0: nothing changes, CF stays
            a.SaveFlags(esi);
            a.mov(ebx, 0x00008001);
            a.mov(cl, 17);
            a.clc();
            a.rcr(bx, cl);              // 17 mod 17 = 0
            a.SaveFlags(edi);
            a.mov(edx, 0x00000080);
            a.mov(cl, 10);
            a.stc();
            a.rcl(dl, cl);              // 10 mod 9 = 1: 0x80 -> 0x01, CF=1
            a.SaveFlags(ebp);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x5Au));
        Assert.That(m.Cpu.Esi & CF, Is.EqualTo(CF));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x8001u));
        Assert.That(m.Cpu.Edi & CF, Is.EqualTo(0u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x01u));
        Assert.That(m.Cpu.Ebp & CF, Is.EqualTo(CF));
    }

    [Test]
    public void SixteenBitShiftsAndRotates_KeepTheUpperHalf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA8001);
            a.shl(ax, 1);               // 0x0002, CF=1, OF=1
            a.SaveFlags(esi);
            a.mov(ebx, 0x55558000);
            a.sar(bx, 15);              // 0xFFFF
            a.mov(edx, 0x12340001);
            a.ror(dx, 1);               // 0x8000, CF=1, OF=1
            a.SaveFlags(edi);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA0002u));
        AssertFlags(m.Cpu.Esi, CF | OF, DefinedAtCount1);
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x5555FFFFu));
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x12348000u));
        AssertFlags(m.Cpu.Edi, CF | OF, RotateFlags);
    }

    [Test]
    public void SalEncoding_D1Slash6_ShiftsLikeShl()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x40000001);
            a.db(0xD1, 0xF0); // sal eax, 1 with ModRM reg field 6
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80000002u));
        Assert.That(m.Cpu.Eflags & (CF | OF | SF), Is.EqualTo(OF | SF));
    }

    [Test]
    public void MemoryShifts_ReadModifyWrite_AndACountOfZeroWritesNothing()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x9000);
            a.mov(__dword_ptr[ebx], 0x80000001);
            a.mov(__dword_ptr[ebx + 4], 0x12345678);
            a.mov(__byte_ptr[ebx + 8], 0x01);
            a.shl(__dword_ptr[ebx], 1);
            a.mov(cl, 0);
            a.SetFlags(0x2 | ZF | CF);
            a.rol(__dword_ptr[ebx + 4], cl);
            a.SaveFlags(esi);
            a.stc();
            a.rcr(__byte_ptr[ebx + 8], 1);
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(2u));
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Esi & (ZF | CF), Is.EqualTo(ZF | CF));
        Assert.That(m.Memory.Read8(0x9008), Is.EqualTo((byte)0x80));
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(CF));
    }

    [TestCase(0x12345678u, 0x9ABCDEF0u, 4, 0x23456789u, CF)]
    [TestCase(0x40000000u, 0x80000000u, 1, 0x80000001u, OF | SF)]
    [TestCase(0x00000001u, 0xFFFFFFFFu, 31, 0xFFFFFFFFu, SF | PF)]
    public void Shld_ShiftsInBitsFromTheSource(uint dest, uint src, byte count, uint result, uint flags)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, dest);
            a.mov(ebx, src);
            a.mov(ecx, count);
            a.shld(eax, ebx, cl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(src));
        AssertFlags(m.Cpu.Eflags, flags, count == 1 ? DefinedAtCount1 : DefinedAboveCount1);
    }

    [TestCase(0x12345678u, 0x9ABCDEF0u, 4, 0x01234567u, CF)]
    [TestCase(0x00000001u, 0x00000001u, 1, 0x80000000u, CF | OF | SF | PF)]
    [TestCase(0x80000000u, 0x00000000u, 31, 0x00000001u, 0u)]
    public void Shrd_ShiftsInBitsFromTheSource(uint dest, uint src, byte count, uint result, uint flags)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, dest);
            a.mov(ebx, src);
            a.shrd(eax, ebx, count);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        AssertFlags(m.Cpu.Eflags, flags, count == 1 ? DefinedAtCount1 : DefinedAboveCount1);
    }

    // OF is undefined above a count of 1; QEMU takes it from the destination alone shifted by count - 1
    // (the 16-bit form: the source:destination pair as 32 bits), XORed with the result's sign.
    [TestCase(4, 0x00000000u, 0xFFFFFFFFu, 0xF0000000u, true)]
    [TestCase(4, 0x80000000u, 0x00000000u, 0x08000000u, false)]
    [TestCase(1, 0x00000000u, 0xFFFFFFFFu, 0x80000000u, true)]
    [TestCase(1, 0x80000001u, 0x00000001u, 0xC0000000u, false)]
    public void Shrd32_OverflowFlag_AsQemuSetsIt(byte count, uint dest, uint src, uint result, bool of)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, dest);
            a.mov(ebx, src);
            a.shrd(eax, ebx, count);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(result));
        Assert.That((m.Cpu.Eflags & OF) != 0, Is.EqualTo(of));
    }

    [TestCase(20, 0x0004, 0x0000, 0x4000, false)]
    [TestCase(20, 0x0000, 0x8000, 0x0800, false)]
    [TestCase(17, 0x0003, 0x0001, 0x8000, true)]
    public void Shrd16_OverCountsAbove16_ShiftsTheDestinationBackIn_AndSetsOfAsQemu(byte count, int dest, int src, int result, bool of)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xABCD0000 | (uint)dest);
            a.mov(ebx, (uint)src);
            a.mov(ecx, count);
            a.shrd(ax, bx, cl);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xABCD0000u | (uint)result));
        Assert.That((m.Cpu.Eflags & OF) != 0, Is.EqualTo(of));
    }

    [Test]
    public void ShldShrd_WithCountZeroOr32_ChangeNothing()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345678);
            a.mov(ebx, 0xFFFFFFFF);
            a.mov(ecx, 32);
            a.SetFlags(0x2 | CF | ZF);
            a.shld(eax, ebx, cl);
            a.shrd(eax, ebx, 0);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Eflags & (CF | ZF), Is.EqualTo(CF | ZF));
    }

    [Test]
    public void SixteenBitShldShrd_ShiftWithinTheWord_AndOnMemory()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xFFFF1234);
            a.mov(ebx, 0x0000ABCD);
            a.shld(ax, bx, 4);          // 0x234A, CF = bit 12 = 1
            a.SaveFlags(esi);
            a.mov(edx, 0xFFFF1234);
            a.shrd(dx, bx, 4);          // 0xD123, CF = bit 3 = 0
            a.SaveFlags(edi);
            a.mov(__dword_ptr[0x9000], 0x00000001);
            a.mov(ecx, 0x80000000);
            a.shrd(__dword_ptr[0x9000], ecx, 1);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xFFFF234Au));
        AssertFlags(m.Cpu.Esi, CF, DefinedAboveCount1);
        Assert.That(m.Cpu.Edx, Is.EqualTo(0xFFFFD123u));
        AssertFlags(m.Cpu.Edi, SF, DefinedAboveCount1);
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(0x00000000u));
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(CF));
    }

    [Test]
    public void SixteenBitShld_WithCountAbove16_ShiftsInTheDestinationAgain_AsQemu()
    {
        // Undefined on Intel; Cpu.Shift.cs documents QEMU's choice (the 48-bit dest:src:dest).
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x1234);
            a.mov(ebx, 0xABCD);
            a.shld(ax, bx, 20);
        });
        Assert.That(m.Cpu.Eax & 0xFFFF, Is.EqualTo(0xBCD1u));
    }
}

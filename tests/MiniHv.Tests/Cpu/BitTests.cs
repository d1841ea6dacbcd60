using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>BT/BTS/BTR/BTC on registers and memory bit strings, BSF/BSR, and the REP-prefixed scans gcc emits.</summary>
public class BitTests
{
    [TestCase(5, true)]
    [TestCase(4, false)]
    [TestCase(37, true)]
    [TestCase(31, true)]
    public void Bt_Register_CopiesTheBitModulo32IntoCarry(int bit, bool expected)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x80000020);
            a.mov(ecx, bit);
            a.bt(eax, ecx);
        });
        Assert.That((m.Cpu.Eflags & CF) != 0, Is.EqualTo(expected));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x80000020u));
    }

    [Test]
    public void BtsBtrBtc_Register_ReturnOldBitAndModifyIt_LeavingZf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0);
            a.mov(ebx, 0xFFFFFFFF);
            a.mov(edx, 0x00000100);
            a.SetFlags(0x2 | ZF);
            a.bts(eax, 3);
            a.SaveFlags(esi);
            a.btr(ebx, 31);
            a.SaveFlags(edi);
            a.mov(ecx, 8);
            a.btc(edx, ecx);
            a.SaveFlags(ebp);
            a.btc(edx, 0);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(8u));
        Assert.That(m.Cpu.Esi & (CF | ZF), Is.EqualTo(ZF), "BTS: old bit 0, ZF unaffected");
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x7FFFFFFFu));
        Assert.That(m.Cpu.Edi & (CF | ZF), Is.EqualTo(CF | ZF), "BTR: old bit 1");
        Assert.That(m.Cpu.Edx, Is.EqualTo(0x00000001u));
        Assert.That(m.Cpu.Ebp & CF, Is.EqualTo(CF), "BTC: old bit 1");
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(0u));
    }

    [Test]
    public void Bt16_Register_UsesTheOffsetModulo16()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x00010002);
            a.mov(ecx, 17);
            a.bt(ax, cx);               // bit 1 of AX (17 mod 16), not bit 17 of EAX
            a.SaveFlags(esi);
            a.bts(ax, 16 + 4);
        });
        Assert.That(m.Cpu.Esi & CF, Is.EqualTo(CF));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x00010012u));
    }

    [TestCase(35, 0x9004u, 3)]
    [TestCase(-1, 0x8FFCu, 31)]
    [TestCase(-33, 0x8FF8u, 31)]
    [TestCase(-32, 0x8FFCu, 0)]
    [TestCase(64, 0x9008u, 0)]
    public void BtsMemory_WithRegisterOffset_AddressesABitStringOnEitherSide(int offset, uint dword, int bit)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x9000);
            a.mov(ecx, offset);
            a.bts(__dword_ptr[ebx], ecx);
            a.SaveFlags(esi);
            a.bt(__dword_ptr[ebx], ecx);
        });
        for (uint addr = 0x8FF0; addr < 0x9010; addr += 4)
            Assert.That(m.Memory.Read32(addr), Is.EqualTo(addr == dword ? 1u << bit : 0u), $"dword at {addr:x}");
        Assert.That(m.Cpu.Esi & CF, Is.EqualTo(0u), "old bit was clear");
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(CF), "BT sees the bit BTS set");
    }

    [Test]
    public void BtrBtcMemory_WithNegativeRegisterOffset_ModifyTheDwordBelow()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(__dword_ptr[0x8FFC], 0xFFFFFFFF);
            a.mov(ebx, 0x9000);
            a.mov(ecx, -2);              // bit 30 of the dword below
            a.btr(__dword_ptr[ebx], ecx);
            a.SaveFlags(esi);
            a.mov(ecx, -100);            // -100 = -4 * 32 + 28: bit 28 of the dword at -16
            a.btc(__dword_ptr[ebx], ecx);
        });
        Assert.That(m.Memory.Read32(0x8FFC), Is.EqualTo(0xBFFFFFFFu));
        Assert.That(m.Cpu.Esi & CF, Is.EqualTo(CF));
        Assert.That(m.Memory.Read32(0x8FF0), Is.EqualTo(0x10000000u));
        Assert.That(m.Cpu.Eflags & CF, Is.EqualTo(0u));
    }

    [Test]
    public void Bt16Memory_WithNegativeRegisterOffset_StepsInWords()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x9000);
            a.mov(eax, 0xFFFF);          // -1 as a word: bit 15 of the word below
            a.bts(__word_ptr[ebx], ax);
            a.mov(eax, 0x0011);          // 17: bit 1 of the next word
            a.bts(__word_ptr[ebx], ax);
        });
        Assert.That(m.Memory.Read16(0x8FFE), Is.EqualTo((ushort)0x8000));
        Assert.That(m.Memory.Read16(0x9002), Is.EqualTo((ushort)0x0002));
        Assert.That(m.Memory.Read16(0x9000), Is.EqualTo((ushort)0));
    }

    [Test]
    public void BtMemory_WithImmediateOffset_StaysInTheAddressedOperand()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, 0x9000);
            a.bts(__dword_ptr[ebx], 35); // 35 mod 32 = bit 3 of this dword
            a.bts(__word_ptr[ebx + 8], 17); // 17 mod 16 = bit 1 of this word
        });
        Assert.That(m.Memory.Read32(0x9000), Is.EqualTo(8u));
        Assert.That(m.Memory.Read32(0x9004), Is.EqualTo(0u));
        Assert.That(m.Memory.Read32(0x9008), Is.EqualTo(2u));
    }

    [TestCase(0x00080010u, 4u, 19u)]
    [TestCase(0x80000000u, 31u, 31u)]
    [TestCase(0x00000001u, 0u, 0u)]
    [TestCase(0xFFFFFFFFu, 0u, 31u)]
    public void BsfBsr_FindTheLowestAndHighestSetBit_AndClearZf(uint source, uint low, uint high)
    {
        using var m = Exec.Code(a =>
        {
            a.mov(ebx, source);
            a.SetFlags(0x2 | ZF);
            a.bsf(eax, ebx);
            a.SaveFlags(esi);
            a.mov(__dword_ptr[0x9000], ebx);
            a.bsr(ecx, __dword_ptr[0x9000]);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(low));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(high));
        Assert.That(m.Cpu.Esi & ZF, Is.EqualTo(0u));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(0u));
    }

    [Test]
    public void BsfBsr_OfZero_SetZf_AndLeaveTheDestination()
    {
        // The destination is undefined on Intel; Cpu.Shift.cs (BitScan) documents that it is left alone, as QEMU and AMD do.
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0x12345678);
            a.mov(ecx, 0x9ABCDEF0);
            a.xor(ebx, ebx);
            a.bsf(eax, ebx);
            a.SaveFlags(esi);
            a.bsr(ecx, ebx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345678u));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0x9ABCDEF0u));
        Assert.That(m.Cpu.Esi & ZF, Is.EqualTo(ZF));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(ZF));
    }

    [Test]
    public void BsfBsr16_ScanTheWord_AndKeepTheUpperHalf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 0xAAAA0000);
            a.mov(ecx, 0xBBBB0000);
            a.mov(ebx, 0xFFFF8000);
            a.bsf(ax, bx);
            a.mov(edx, 0x00010001);
            a.bsr(cx, dx);
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA000Fu));
        Assert.That(m.Cpu.Ecx, Is.EqualTo(0xBBBB0000u));
    }

    [Test]
    public void RepBsfAndRepBsr_ExecuteAsBsfAndBsr_OnThisProcessorWithoutBmi()
    {
        // gcc emits "rep bsf" (the TZCNT encoding) for __builtin_ctz; a CPU without BMI1/LZCNT,
        // like the one CPUID describes here, runs F3 0F BC/BD as plain BSF/BSR.
        using var m = Exec.Code(a =>
        {
            a.mov(ecx, 0x00F00000);
            a.db(0xF3, 0x0F, 0xBC, 0xC1); // rep bsf eax, ecx
            a.db(0xF3, 0x0F, 0xBD, 0xD1); // rep bsr edx, ecx
            a.xor(ecx, ecx);
            a.mov(ebx, 77);
            a.db(0xF3, 0x0F, 0xBC, 0xD9); // rep bsf ebx, ecx: zero source
        });
        Assert.That(m.Cpu.Eax, Is.EqualTo(20u));
        Assert.That(m.Cpu.Edx, Is.EqualTo(23u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(77u));
        Assert.That(m.Cpu.Eflags & ZF, Is.EqualTo(ZF));
    }
}

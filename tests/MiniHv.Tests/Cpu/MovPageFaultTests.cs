using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// A MOV to or from memory that page-faults changes nothing: its register and the memory keep their values, and
/// the #PF carries the MOV's EIP, CR2 and the error code. The interpreter leaves these faults pending instead of
/// throwing them, compiled code throws them; both must look the same to the guest.
/// </summary>
[TestFixture(PagingMode.Walk, CpuTier.Interp)]
[TestFixture(PagingMode.Shadow, CpuTier.Interp)]
[TestFixture(PagingMode.Shadow, CpuTier.Jit)]
public class MovPageFaultTests
{
    private const uint P = PageTables.P, RW = PageTables.RW, US = PageTables.US;
    private const uint UserCode = 0x400000, Unmapped = 0x800000, ReadOnly = 0x600000, UserStack = 0x7F000;

    private readonly PagingMode _paging;
    private readonly CpuTier _tier;

    public MovPageFaultTests(PagingMode paging, CpuTier tier)
    {
        _paging = paging;
        _tier = tier;
    }

    private (TestMachine M, SystemTables T, StopReason Stop) RunUser(Action<Assembler> code, uint ebx)
    {
        var m = new TestMachine(_paging);
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(UserCode, UserCode, P | US);
        pt.Map(UserStack, UserStack, P | RW | US);
        pt.Map(ReadOnly, ReadOnly, P | US);
        m.Memory.Write32(ReadOnly + 0x10, 0xCAFEF00D);
        m.Assemble(UserCode, a =>
        {
            code(a);
            a.hlt();
        });
        if (_tier == CpuTier.Jit)
        {
            m.Cpu.Tier = CpuTier.Jit;
            m.Cpu.JitThreshold = 1;
            m.Cpu.CompileInline = true;
        }

        t.EnterUserMode(UserCode, UserStack);
        pt.Enable();
        m.Cpu.Ebx = ebx;
        m.Cpu.Ecx = 0x11111111;
        m.Cpu.Eax = 0x22222222;
        return (m, t, m.Cpu.Run(100));
    }

    [Test]
    public void LoadFromAPageNotPresent_LeavesItsRegister()
    {
        var (m, t, stop) = RunUser(a => a.mov(ecx, __dword_ptr[ebx]), Unmapped + 0x10);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.Multiple(() =>
            {
                Assert.That(t.Stack(0), Is.EqualTo(4u), "user read of a page not present");
                Assert.That(t.Stack(1), Is.EqualTo(UserCode), "EIP names the MOV");
                Assert.That(m.Cpu.Cr2, Is.EqualTo(Unmapped + 0x10));
                Assert.That(m.Cpu.Ecx, Is.EqualTo(0x11111111u), "the destination keeps its value");
                Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(2), "the faulting MOV costs one instruction, the stub's HLT another");
            });
        }
    }

    [Test]
    public void StoreOfARegisterToAReadOnlyPage_LeavesTheMemory()
    {
        var (m, t, stop) = RunUser(a => a.mov(__dword_ptr[ebx], eax), ReadOnly + 0x10);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.Multiple(() =>
            {
                Assert.That(t.Stack(0), Is.EqualTo(7u), "user write to a present read-only page");
                Assert.That(t.Stack(1), Is.EqualTo(UserCode));
                Assert.That(m.Cpu.Cr2, Is.EqualTo(ReadOnly + 0x10));
                Assert.That(m.Memory.Read32(ReadOnly + 0x10), Is.EqualTo(0xCAFEF00D));
            });
        }
    }

    [Test]
    public void StoreOfAnImmediateAfterOtherWork_FaultsAtItsOwnEip_WithTheWorkBeforeItDone()
    {
        var (m, t, stop) = RunUser(a =>
        {
            a.mov(edx, 5);
            a.add(edx, 3);
            a.mov(__dword_ptr[ebx + 4], 0x12345678);
        }, ReadOnly + 0xC);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.Multiple(() =>
            {
                Assert.That(t.Stack(0), Is.EqualTo(7u));
                Assert.That(t.Stack(1), Is.EqualTo(UserCode + 8), "EIP of the third instruction (5 + 3 bytes before it)");
                Assert.That(m.Cpu.Edx, Is.EqualTo(8u), "the instructions before it retired");
                Assert.That(m.Memory.Read32(ReadOnly + 0x10), Is.EqualTo(0xCAFEF00D));
                Assert.That(m.Cpu.InstructionsExecuted, Is.EqualTo(3), "two retired before it, then the stub's HLT");
            });
        }
    }
}

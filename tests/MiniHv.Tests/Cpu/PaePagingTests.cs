using MiniHv.Hv.Machine;
using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// PAE paging with tables built in memory, on the plain walk and on the shadow MMU: 4 KiB and 2 MiB pages, the
/// Accessed and Dirty bits, execute-disable with EFER.NXE (the I/D bit), reserved bits (RSVD), the PDPTE registers
/// (a PDPT change takes effect at the next load; a bad PDPT refuses the MOV with #GP), CPUID and IA32_EFER.
/// </summary>
[TestFixture(PagingMode.Walk)]
[TestFixture(PagingMode.Shadow)]
public class PaePagingTests
{
    private readonly PagingMode _paging;

    public PaePagingTests(PagingMode paging) => _paging = paging;

    private const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, NX = 1ul << 63;
    private const uint Page = 0x4080_0000, Frame = 0x60_0000, OtherFrame = 0x70_0000, Code = 0x4090_0000;

    /// <summary>A machine with PAE tables mapping the first 2 MiB (kernel, stubs, tables) and the system tables.</summary>
    private (TestMachine M, SystemTables T, PaeTables Pt) NewMachine()
    {
        var m = new TestMachine(_paging);
        var t = new SystemTables(m);
        var pt = new PaeTables(m);
        return (m, t, pt);
    }

    private static StopReason Run(TestMachine m, PaeTables pt, Action<Assembler> body, bool nxe = false, bool wp = true)
    {
        m.Load(a =>
        {
            body(a);
            a.hlt();
        });
        pt.Enable(nxe, wp);
        return m.Cpu.Run(1000);
    }

    [Test]
    public void Read_ThroughA4KPage_SetsAccessedInPdeAndPte_ButNotDirty()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW);
            m.Memory.Write32(Frame + 0x10, 0xCAFEF00D);
            var stop = Run(m, pt, a => a.mov(eax, __dword_ptr[Page + 0x10]));
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Eax, Is.EqualTo(0xCAFEF00Du));
            Assert.That(pt.Pde(Page) & (A | D), Is.EqualTo(A));
            Assert.That(pt.Pte(Page) & (A | D), Is.EqualTo(A));
        }
    }

    [Test]
    public void Write_ThroughA4KPage_SetsDirtyInThePte()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW);
            var stop = Run(m, pt, a => a.mov(__dword_ptr[Page + 0x20], 0x11223344));
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Memory.Read32(Frame + 0x20), Is.EqualTo(0x11223344u));
            Assert.That(pt.Pte(Page) & (A | D), Is.EqualTo(A | D));
            Assert.That(pt.Pde(Page) & D, Is.Zero, "D is the leaf's alone");
        }
    }

    [Test]
    public void TwoMegabytePage_WorksWithoutPse_AndAWriteMarksThePdeAccessedAndDirty()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map2M(0x4000_0000, 0x40_0000, P | RW);
            m.Memory.Write32(0x40_0000 + 0x12_3450, 0x5A5A5A5A);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[0x4012_3450]);
                a.mov(__dword_ptr[0x401F_F000], 0x77);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Eax, Is.EqualTo(0x5A5A5A5Au));
            Assert.That(m.Memory.Read32(0x5F_F000), Is.EqualTo(0x77u));
            Assert.That(pt.Pde(0x4000_0000) & (A | D), Is.EqualTo(A | D));
        }
    }

    [TestCase(false, 0x09, TestName = "Nx_WithoutNxe_IsReserved_Rsvd09")]
    [TestCase(true, -1, TestName = "Nx_WithNxe_DataReadSucceeds")]
    public void NxBit_OnADataRead(bool nxe, int errorCode)
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW | NX);
            m.Memory.Write32(Frame, 0x12345678);
            var stop = Run(m, pt, a => a.mov(eax, __dword_ptr[Page]), nxe);
            if (errorCode < 0)
            {
                Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
                Assert.That(m.Cpu.Eax, Is.EqualTo(0x12345678u));
                return;
            }

            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo((uint)errorCode));
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Page));
        }
    }

    [TestCase(true, false, TestName = "Fetch_FromAnNxPte_FaultsWithIdAndPresent")]
    [TestCase(false, true, TestName = "Fetch_FromAPageUnderAnNxPde_FaultsWithIdAndPresent")]
    public void Fetch_FromAnExecuteDisablePage_Faults(bool nxPte, bool nxPde)
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Code, Frame, P | RW | (nxPte ? NX : 0), pdeFlags: P | RW | US | (nxPde ? NX : 0));
            m.Memory.Write8(Frame, 0xF4); // HLT, never reached
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Code]); // readable all the same
                a.mov(ecx, Code);
                a.jmp(ecx);
            }, nxe: true);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x11u), "P | I/D");
            Assert.That(t.Stack(1), Is.EqualTo(Code), "EIP of the fetch");
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Code));
            Assert.That(m.Cpu.Eax, Is.EqualTo(0xF4u));
        }
    }

    [Test]
    public void Fetch_FromAnExecutablePage_RunsWithNxeOn()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Code, Frame, P | RW);
            m.Assemble(Frame, a =>
            {
                a.mov(edx, 0xBEEF);
                a.hlt();
            });
            var stop = Run(m, pt, a =>
            {
                a.mov(ecx, Code);
                a.jmp(ecx);
            }, nxe: true);
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Edx, Is.EqualTo(0xBEEFu));
        }
    }

    [Test]
    public void Fetch_FromANotPresentPage_WithNxe_SetsTheIdBit()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            var stop = Run(m, pt, a =>
            {
                a.mov(ecx, Code);
                a.jmp(ecx);
            }, nxe: true);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x10u));
        }
    }

    [Test]
    public void Nx_MadeEffective_ByInvlpg_AfterTheCodeRan()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Code, Frame, P | RW);
            m.Assemble(Frame, a => a.ret());
            uint pteAddress = pt.PteAddress(Code);
            var stop = Run(m, pt, a =>
            {
                a.mov(ecx, Code);
                a.call(ecx);
                a.or(__dword_ptr[pteAddress + 4], 0x8000_0000u);
                a.invlpg(__[ecx]);
                a.call(ecx);
            }, nxe: true);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x11u));
        }
    }

    [Test]
    public void Nx_MadeEffective_ByInvlpg_StopsABlockLinkedToTheCode_EvenAfterADataReadRefillsTheTlb()
    {
        // A routine's block is linked to the code it calls. The data read after INVLPG puts the page back in the
        // read TLB (NX does not stop reads), so only the fetch check can stop the second call through the link.
        // (The code's page is one whose TLB slot the test program's page, at 1 MiB, does not share.)
        const uint code = Code + 0x1000;
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(code, Frame, P | RW);
            m.Assemble(Frame, a => a.ret());
            uint pteAddress = pt.PteAddress(code);
            var stop = Run(m, pt, a =>
            {
                var routine = a.CreateLabel();
                var done = a.CreateLabel();
                a.mov(ecx, code);
                a.call(routine);
                a.or(__dword_ptr[pteAddress + 4], 0x8000_0000u);
                a.invlpg(__[ecx]);
                a.mov(eax, __dword_ptr[ecx]);
                a.call(routine);
                a.jmp(done);
                a.Label(ref routine);
                a.call(ecx);
                a.ret();
                a.Label(ref done);
            }, nxe: true);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x11u));
        }
    }

    [TestCase(1ul << 40, false, 0x09u, TestName = "ReservedAddressBit40_InThePte_Read_Rsvd09")]
    [TestCase(1ul << 52, true, 0x0Bu, TestName = "ReservedBit52_InThePte_Write_Rsvd0B")]
    public void ReservedBit_InAPresentPte_FaultsWithRsvd(ulong bit, bool write, uint errorCode)
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW | bit);
            var stop = Run(m, pt, a =>
            {
                if (write)
                    a.mov(__dword_ptr[Page], eax);
                else
                    a.mov(eax, __dword_ptr[Page]);
            });
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(errorCode));
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Page));
            Assert.That(pt.Pte(Page) & A, Is.Zero, "a faulting leaf is not marked");
        }
    }

    [Test]
    public void ReservedBit_InA2MPde_FaultsWithRsvd()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map2M(0x4000_0000, 0x40_0000, P | RW | (1ul << 13));
            var stop = Run(m, pt, a => a.mov(eax, __dword_ptr[0x4000_0000]));
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x09u));
        }
    }

    [Test]
    public void NotPresentPdpte_FaultsWithoutRsvd()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            var stop = Run(m, pt, a => a.mov(__dword_ptr[0xC000_0000], eax));
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x02u));
        }
    }

    [Test]
    public void PdptChange_TakesEffectAtTheNextCr3Load_NotBefore()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW);
            m.Memory.Write32(Frame, 0x1111);
            m.Memory.Write32(OtherFrame, 0x2222);
            uint otherDirectory = pt.NewTable(), otherTable = pt.NewTable();
            m.Memory.Write64(otherDirectory + (((Page >> 21) & 511) * 8), otherTable | P | RW | US);
            m.Memory.Write64(otherTable + (((Page >> 12) & 511) * 8), OtherFrame | P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(__dword_ptr[PaeTables.Pdpt + 8], otherDirectory | 1);
                a.mov(eax, __dword_ptr[Page]); // first touch: a TLB miss, walked through the old PDPTE register
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);
                a.mov(ebx, __dword_ptr[Page]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Eax, Is.EqualTo(0x1111u), "before the reload");
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x2222u), "after the reload");
        }
    }

    [Test]
    public void MovToCr3_WithAReservedBitInAPresentPdpte_RaisesGp_AndKeepsCr3()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            uint bad = pt.NewTable();
            m.Memory.Write64(bad, P | 2); // bit 1 is reserved in a PDPTE
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, bad);
                a.mov(cr3, eax);
            });
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(t.Stack(0), Is.Zero);
            Assert.That(m.Cpu.Cr3, Is.EqualTo(PaeTables.Pdpt));
        }
    }

    [Test]
    public void MovToCr0_EnablingPaePaging_WithABadPdpt_RaisesGp_AndChangesNothing()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            m.Memory.Write64(PaeTables.Pdpt + 24, P | (1ul << 40)); // above MAXPHYADDR
            m.Cpu.Cr4 = MiniHv.Cpu.Cpu.CR4_PAE;
            m.Cpu.Cr3 = PaeTables.Pdpt; // paging off: nothing is loaded yet
            m.Load(a =>
            {
                a.mov(eax, cr0);
                a.or(eax, 0x8000_0000);
                a.mov(cr0, eax);
                a.hlt();
            });
            var stop = m.Cpu.Run(100);
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Cpu.PagingEnabled, Is.False);
        }
    }

    [Test]
    public void MovToCr4_ChangingPge_ReloadsThePdpt_SoABadOneRaisesGp()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            var stop = Run(m, pt, a =>
            {
                a.mov(__dword_ptr[PaeTables.Pdpt + 28], 0x100); // bit 40 of PDPTE 3: reserved
                a.mov(eax, cr4);
                a.or(eax, 0x80);
                a.mov(cr4, eax);
            });
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PGE, Is.Zero);
        }
    }

    [Test]
    public void Cpuid_ReportsPae_AndNxInTheExtendedLeaf()
    {
        using var m = Exec.Code(a =>
        {
            a.mov(eax, 1);
            a.cpuid();
            a.mov(esi, edx);
            a.mov(eax, 0x8000_0000);
            a.cpuid();
            a.mov(edi, eax);
            a.mov(eax, 0x8000_0001);
            a.cpuid();
        });
        Assert.That(m.Cpu.Esi & (1u << 6), Is.Not.Zero, "leaf 1 EDX.PAE");
        Assert.That(m.Cpu.Edi, Is.GreaterThanOrEqualTo(0x8000_0001u), "highest extended leaf");
        Assert.That(m.Cpu.Edx & (1u << 20), Is.Not.Zero, "0x80000001 EDX.NX");
    }

    [Test]
    public void Efer_ReadsBackNxe_AndRefusesEveryOtherBit()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            m.Load(a =>
            {
                a.mov(ecx, 0xC000_0080);
                a.mov(eax, 0x800);
                a.xor(edx, edx);
                a.wrmsr();
                a.xor(eax, eax);
                a.rdmsr();
                a.mov(esi, eax);
                a.mov(eax, 0x900); // LME: no long mode here
                a.wrmsr();
                a.hlt();
            });
            var stop = m.Cpu.Run(100);
            t.AssertHaltedIn(Vectors.GP, stop);
            Assert.That(m.Cpu.Esi, Is.EqualTo(0x800u));
            Assert.That(m.Cpu.Efer, Is.EqualTo(0x800u), "the refused write changed nothing");
        }
    }

    [Test]
    public void UserAccess_ToASupervisorPage_FaultsAsInTwoLevelPaging()
    {
        var (m, t, pt) = NewMachine();
        using (m)
        {
            pt.Map(Page, Frame, P | RW);
            pt.Map(0x4000_0000, 0x50_0000, P | US);
            t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
            m.Assemble(0x50_0000, a =>
            {
                a.mov(eax, __dword_ptr[Page]);
                a.@int(0x80);
            });
            t.EnterUserMode(0x4000_0000, 0x7F000);
            pt.Enable(nxe: true, wp: true);
            var stop = m.Cpu.Run(100);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0x05u));
        }
    }
}

/// <summary>PAE tables in the test machine's RAM: a PDPT at <see cref="Pdpt"/>, four directories, a bump allocator for tables.</summary>
internal sealed class PaeTables
{
    public const uint Pdpt = 0x20000;
    private const ulong P = 1, RW = 2, US = 4, PS = 0x80;

    private readonly TestMachine _m;
    private uint _next = Pdpt + 0x1000;

    public PaeTables(TestMachine m)
    {
        _m = m;
        for (uint q = 0; q < 4; q++)
            _m.Memory.Write64(Pdpt + (q * 8), NewTable() | P);
        for (uint a = 0; a < 0x200000; a += 0x1000)
            Map(a, a, P | RW | US);
    }

    /// <summary>A zeroed 4 KiB table's address.</summary>
    public uint NewTable()
    {
        uint t = _next;
        _next += 0x1000;
        for (uint i = 0; i < 0x1000; i += 8)
            _m.Memory.Write64(t + i, 0);
        return t;
    }

    public uint PdeAddress(uint linear) => (uint)(_m.Memory.Read64(Pdpt + ((linear >> 30) * 8)) & 0xFFFFF000) + (((linear >> 21) & 511) * 8);

    public uint PteAddress(uint linear) => (uint)(Pde(linear) & 0xFFFFF000) + (((linear >> 12) & 511) * 8);

    public ulong Pde(uint linear) => _m.Memory.Read64(PdeAddress(linear));

    public ulong Pte(uint linear) => _m.Memory.Read64(PteAddress(linear));

    public void Map(uint linear, uint physical, ulong flags, ulong pdeFlags = P | RW | US)
    {
        ulong pde = Pde(linear);
        uint table = (pde & P) == 0 || (pde & PS) != 0 ? NewTable() : (uint)(pde & 0xFFFFF000);
        _m.Memory.Write64(PdeAddress(linear), table | pdeFlags);
        _m.Memory.Write64(PteAddress(linear), physical | flags);
    }

    public void Map2M(uint linear, uint physical, ulong flags) => _m.Memory.Write64(PdeAddress(linear), physical | flags | PS);

    /// <summary>CR4.PAE, CR3 at the PDPT, EFER.NXE as asked, then CR0.PG (and WP).</summary>
    public void Enable(bool nxe, bool wp)
    {
        var cpu = _m.Cpu;
        cpu.Cr4 = MiniHv.Cpu.Cpu.CR4_PAE;
        cpu.Efer = nxe ? MiniHv.Cpu.Cpu.EFER_NXE : 0;
        cpu.Cr3 = Pdpt;
        cpu.Cr0 = cpu.Cr0 | MiniHv.Cpu.Cpu.CR0_PG | (wp ? MiniHv.Cpu.Cpu.CR0_WP : 0);
    }
}

using MiniHv.Hv.Machine;
using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The two-level walk with page tables built in memory: every #PF error-code combination
/// (present/write/user, CR0.WP on and off) with CR2 and the pushed error code, Accessed and Dirty
/// bits exactly when hardware sets them, 4 KiB and 4 MiB (CR4.PSE) pages, and the TLB flush rules.
/// </summary>
[TestFixture(PagingMode.Walk)]
[TestFixture(PagingMode.Shadow)]
public class PagingTests
{
    private readonly PagingMode _paging;

    /// <summary>Every architectural paging test runs on the plain walk and again on the shadow MMU.</summary>
    public PagingTests(PagingMode paging) => _paging = paging;

    private TestMachine NewMachine() => new(_paging);

    private const uint P = PageTables.P, RW = PageTables.RW, US = PageTables.US, A = PageTables.A, D = PageTables.D, PS = PageTables.PS;
    private const uint Target = 0x800123, TargetPage = 0x800000, Frame = 0x600000, UserCode = 0x400000;

    /// <summary>
    /// Map the target page with the given entries, then read or write it at CPL 0 or 3. Returns the
    /// machine, its tables and how Run stopped; user code ends with INT 0x80, kernel code with HLT.
    /// </summary>
    private (TestMachine M, SystemTables T, PageTables Pt, StopReason Stop) Access(uint pde, uint pte, int cpl, bool write, bool wp)
    {
        var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m, P | RW | US);
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        pt.Map(UserCode, UserCode, P | US);
        pt.Map(TargetPage, Frame, pte);
        m.Memory.Write32(pt.PdeAddress(TargetPage), (m.Memory.Read32(pt.PdeAddress(TargetPage)) & 0xFFFFF000) | pde);
        m.Memory.Write32(Frame + 0x123, 0xAAAA5555);
        Action<Assembler> body = a =>
        {
            a.mov(ebx, 0x12345678);
            if (write)
                a.mov(__dword_ptr[Target], ebx);
            else
                a.mov(eax, __dword_ptr[Target]);
            if (cpl == 3)
                a.@int(0x80);
            else
                a.hlt();
        };
        if (cpl == 3)
        {
            m.Assemble(UserCode, body);
            t.EnterUserMode(UserCode, 0x7F000);
        }
        else
        {
            m.Load(body);
        }

        pt.Enable(wp);
        return (m, t, pt, m.Cpu.Run(100));
    }

    private static uint CodeStart(int cpl) => cpl == 3 ? UserCode : TestMachine.CodeBase;

    [TestCase(P | RW | US, 0u, 0, false, true, 0, TestName = "NotPresentPte_KernelRead_ErrorCode0")]
    [TestCase(P | RW | US, 0u, 0, true, true, 2, TestName = "NotPresentPte_KernelWrite_ErrorCode2")]
    [TestCase(P | RW | US, 0u, 3, false, true, 4, TestName = "NotPresentPte_UserRead_ErrorCode4")]
    [TestCase(P | RW | US, 0u, 3, true, true, 6, TestName = "NotPresentPte_UserWrite_ErrorCode6")]
    [TestCase(0u, P | RW | US, 0, false, false, 0, TestName = "NotPresentPde_KernelRead_ErrorCode0")]
    [TestCase(0u, P | RW | US, 3, true, false, 6, TestName = "NotPresentPde_UserWrite_ErrorCode6")]
    [TestCase(P | RW | US, P | RW, 3, false, true, 5, TestName = "SupervisorPte_UserRead_ErrorCode5")]
    [TestCase(P | RW | US, P | RW, 3, true, true, 7, TestName = "SupervisorPte_UserWrite_ErrorCode7")]
    [TestCase(P | RW, P | RW | US, 3, false, true, 5, TestName = "SupervisorPde_UserRead_ErrorCode5")]
    [TestCase(P | RW | US, P | US, 3, true, true, 7, TestName = "ReadOnlyUserPte_UserWrite_ErrorCode7")]
    [TestCase(P | RW | US, P | US, 3, true, false, 7, TestName = "ReadOnlyUserPte_UserWriteWithWpOff_ErrorCode7")]
    [TestCase(P | US, P | RW | US, 3, true, true, 7, TestName = "ReadOnlyUserPde_UserWrite_ErrorCode7")]
    [TestCase(P | RW | US, P, 0, true, true, 3, TestName = "ReadOnlyPte_KernelWriteWithWp_ErrorCode3")]
    [TestCase(P | RW | US, P | US, 0, true, true, 3, TestName = "ReadOnlyUserPte_KernelWriteWithWp_ErrorCode3")]
    [TestCase(P | US, P | RW | US, 0, true, true, 3, TestName = "ReadOnlyPde_KernelWriteWithWp_ErrorCode3")]
    public void PageFault_PushesTheErrorCode_AndSetsCr2_ToTheFaultingAddress(uint pde, uint pte, int cpl, bool write, bool wp, int errorCode)
    {
        var (m, t, _, stop) = Access(pde, pte, cpl, write, wp);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo((uint)errorCode), "error code");
            Assert.That(t.Stack(1), Is.EqualTo(CodeStart(cpl) + 5), "EIP of the faulting access (after the 5-byte MOV EBX)");
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Target));
            Assert.That(m.Memory.Read32(Frame + 0x123), Is.EqualTo(0xAAAA5555u), "nothing written");
        }
    }

    [TestCase(P | RW | US, P | US, 3, false, true, TestName = "ReadOnlyUserPage_UserRead_Succeeds")]
    [TestCase(P | RW | US, P | RW | US, 3, true, true, TestName = "WritableUserPage_UserWrite_Succeeds")]
    [TestCase(P | RW | US, P, 0, true, false, TestName = "ReadOnlyPte_KernelWriteWithWpOff_Succeeds")]
    [TestCase(P | US, P | US, 0, true, false, TestName = "ReadOnlyUserPage_KernelWriteWithWpOff_Succeeds")]
    [TestCase(P | RW, P | RW, 0, false, true, TestName = "SupervisorPage_KernelRead_Succeeds")]
    public void PermittedAccess_DoesNotFault(uint pde, uint pte, int cpl, bool write, bool wp)
    {
        var (m, t, _, stop) = Access(pde, pte, cpl, write, wp);
        using (m)
        {
            if (cpl == 3)
                t.AssertHaltedIn(0x80, stop);
            else
                Assert.That(stop, Is.EqualTo(StopReason.Halted));
            if (write)
                Assert.That(m.Memory.Read32(Frame + 0x123), Is.EqualTo(0x12345678u));
            else
                Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA5555u));
        }
    }

    [Test]
    public void Read_SetsAccessedInPdeAndPte_ButNotDirty()
    {
        var (m, _, pt, stop) = Access(P | RW | US, P | RW | US, 0, false, false);
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(pt.Pte(TargetPage) & (A | D), Is.EqualTo(A));
            Assert.That(pt.Pde(TargetPage) & A, Is.EqualTo(A));
        }
    }

    [Test]
    public void Write_SetsAccessedAndDirtyInThePte_AndOnlyAccessedInThePde()
    {
        var (m, _, pt, stop) = Access(P | RW | US, P | RW | US, 3, true, false);
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(pt.Pte(TargetPage) & (A | D), Is.EqualTo(A | D));
            Assert.That(pt.Pde(TargetPage) & (A | D), Is.EqualTo(A), "a directory entry of a 4 KiB page has no dirty bit to set");
        }
    }

    [Test]
    public void FaultingWrite_DoesNotSetDirty()
    {
        var (m, t, pt, stop) = Access(P | RW | US, P | US, 3, true, true);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(pt.Pte(TargetPage) & D, Is.EqualTo(0u));
        }
    }

    [Test]
    public void FaultBelowTheDirectory_StillMarksTheDirectoryEntryAccessed()
    {
        // The directory entry was used to reach the table (the manual: "whenever the processor uses
        // a paging-structure entry ... it sets the accessed flag"; QEMU does the same).
        var (m, t, pt, stop) = Access(P | RW | US, P | US, 3, true, true);
        using (m)
        {
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(pt.Pde(TargetPage) & A, Is.EqualTo(A));
            // Whether real processors set the PTE's A on a protection fault is not clear to us; QEMU does not.
            Assert.That(pt.Pte(TargetPage) & D, Is.EqualTo(0u), "no write happened");
        }

        var (m2, t2, pt2, stop2) = Access(P | RW | US, 0, 0, false, true);
        using (m2)
        {
            t2.AssertHaltedIn(Vectors.PF, stop2);
            Assert.That(pt2.Pde(TargetPage) & A, Is.EqualTo(A));
        }
    }

    [Test]
    public void WriteAfterARead_ThroughTheSameTlbEntry_StillSetsDirty()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map(TargetPage, Frame, P | RW);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[Target]);        // walks: A set, the translation cached
            a.mov(ebx, __dword_ptr[pt.PteAddress(TargetPage)]);
            a.mov(__dword_ptr[Target + 4], eax);    // same page: D must be set now
            a.mov(ecx, __dword_ptr[pt.PteAddress(TargetPage)]);
            a.hlt();
        });
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx & (A | D), Is.EqualTo(A), "after the read");
        Assert.That(m.Cpu.Ecx & (A | D), Is.EqualTo(A | D), "after the write");
    }

    [Test]
    public void DirtyClearedByTheKernel_IsSetAgainByTheNextWrite_AfterInvlpg()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map(TargetPage, Frame, P | RW);
        uint pteAddress = pt.PteAddress(TargetPage);
        m.Load(a =>
        {
            a.mov(__dword_ptr[Target], 1);
            a.and(__dword_ptr[pteAddress], ~(A | D));
            a.invlpg(__[Target]);
            a.mov(eax, __dword_ptr[Target]);
            a.mov(ebx, __dword_ptr[pteAddress]);
            a.mov(__dword_ptr[Target], 2);
            a.mov(ecx, __dword_ptr[pteAddress]);
            a.hlt();
        });
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx & (A | D), Is.EqualTo(A));
        Assert.That(m.Cpu.Ecx & (A | D), Is.EqualTo(A | D));
    }

    [Test]
    public void InstructionFetch_SetsAccessedOnTheCodePage()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map(UserCode, UserCode, P | RW);
        m.Assemble(UserCode, a =>
        {
            a.mov(eax, 1);
            a.hlt();
        });
        m.Load(a => a.jmp(__dword_ptr[0x9000]));
        m.Memory.Write32(0x9000, UserCode);
        pt.Enable();
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(1u));
        Assert.That(pt.Pte(UserCode) & (A | D), Is.EqualTo(A));
    }

    [Test]
    public void FourMegabytePage_WithPse_MapsTheWholeRegion()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map4M(0x800000, 0xC00000, P | RW);
        m.Memory.Write32(0xC01234, 0x4444);
        m.Memory.Write32(0xFFFFFC, 0x5555);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x801234]);
            a.mov(ebx, __dword_ptr[0xBFFFFC]);
            a.hlt();
        });
        pt.Enable(pse: true);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x4444u));
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x5555u));
        Assert.That(pt.Pde(0x800000) & (A | D), Is.EqualTo(A), "a read sets A only");
    }

    [Test]
    public void FourMegabytePage_Write_SetsDirtyInTheDirectoryEntry()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map4M(0x800000, 0xC00000, P | RW);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x800010]);
            a.mov(ebx, __dword_ptr[pt.PdeAddress(0x800000)]);
            a.mov(__dword_ptr[0x900000], 7);
            a.hlt();
        });
        pt.Enable(pse: true);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Ebx & (A | D), Is.EqualTo(A));
        Assert.That(pt.Pde(0x800000) & (A | D), Is.EqualTo(A | D));
        Assert.That(m.Memory.Read32(0xD00000), Is.EqualTo(7u));
    }

    [Test]
    public void PsBit_WithoutCr4Pse_IsIgnored_AndTheEntryPointsToAPageTable()
    {
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map4M(0x800000, 0xC00000, P | RW);
        m.Memory.Write32(0xC00000 + (1 * 4), 0x500000 | P | RW);  // PTE 1 of the "table" at 0xC00000
        m.Memory.Write32(0x500234, 0x6666);
        m.Memory.Write32(0xC01234, 0x4444);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[0x801234]);
            a.hlt();
        });
        pt.Enable(pse: false);
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.Eax, Is.EqualTo(0x6666u));
    }

    [TestCase(P | PS, 3, false, true, 5, TestName = "FourMegabyteSupervisorPage_UserRead_ErrorCode5")]
    [TestCase(P | US | PS, 3, true, true, 7, TestName = "FourMegabyteReadOnlyPage_UserWrite_ErrorCode7")]
    [TestCase(P | PS, 0, true, true, 3, TestName = "FourMegabyteReadOnlyPage_KernelWriteWithWp_ErrorCode3")]
    [TestCase(PS, 0, false, true, 0, TestName = "FourMegabyteNotPresent_KernelRead_ErrorCode0")]
    public void FourMegabytePage_Protection_RaisesPageFaultWithTheErrorCode(uint pde, int cpl, bool write, bool wp, int errorCode)
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m, P | RW | US);
        pt.Map(UserCode, UserCode, P | US);
        m.Memory.Write32(pt.PdeAddress(0x800000), 0xC00000 | pde);
        Action<Assembler> body = a =>
        {
            if (write)
                a.mov(__dword_ptr[0x9FFFF0], eax);
            else
                a.mov(eax, __dword_ptr[0x9FFFF0]);
            a.hlt();
        };
        if (cpl == 3)
        {
            m.Assemble(UserCode, body);
            t.EnterUserMode(UserCode, 0x7F000);
        }
        else
        {
            m.Load(body);
        }

        pt.Enable(wp, pse: true);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo((uint)errorCode));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x9FFFF0u));
    }

    [Test]
    public void InstructionFetchFromAnUnmappedPage_FaultsWithTheTargetInCr2AndEip()
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        m.Load(a =>
        {
            a.mov(eax, 0x700010);
            a.jmp(eax);
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(0u));
        Assert.That(t.Stack(1), Is.EqualTo(0x700010u));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(0x700010u));
    }

    [Test]
    public void InstructionFetchFromASupervisorPage_AtCpl3_FaultsWithErrorCode5()
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m, P | RW | US);
        pt.Map(UserCode, UserCode, P | RW);
        m.Assemble(UserCode, a => a.nop());
        t.EnterUserMode(UserCode, 0x7F000);
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(5u));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(UserCode));
    }

    [Test]
    public void InstructionCrossingIntoAnUnmappedPage_FaultsAtTheSecondPage_WithEipAtTheInstruction()
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(UserCode, UserCode, P | RW);
        const uint start = UserCode + 0xFFE;
        m.Memory.Write(start, new byte[] { 0xB8, 0x11, 0x22, 0x33, 0x44 }); // mov eax, imm32 across the boundary
        m.Cpu.Eip = start;
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(1), Is.EqualTo(start));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(UserCode + 0x1000));
    }

    /// <summary>
    /// mov eax, 0x44332211 across the boundary of UserCode's page (3 bytes, then 2 in the next page, then ret),
    /// called from the kernel in a loop; returns the machine after <paramref name="after"/> ran with EDX at the
    /// instruction, ESI the loop's sum of EAX and EDI what <paramref name="after"/> stored.
    /// </summary>
    private (TestMachine M, PageTables Pt, StopReason Stop) CallCrossingInstruction(Func<PageTables, Action<Assembler>> after)
    {
        const uint start = UserCode + 0xFFD, next = UserCode + 0x1000;
        var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map(UserCode, UserCode, P | RW);
        pt.Map(next, next, P | RW);
        m.Memory.Write(start, new byte[] { 0xB8, 0x11, 0x22, 0x33, 0x44, 0xC3 });
        m.Memory.Write(OtherFrame, new byte[] { 0x55, 0x66, 0xC3 });
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.xor(esi, esi);
            a.mov(ecx, 100);
            a.mov(edx, start);
            a.Label(ref loop);
            a.call(edx);
            a.add(esi, eax);
            a.loop(loop);
            after(pt)(a);
            a.hlt();
        });
        pt.Enable();
        return (m, pt, m.Cpu.Run(10_000));
    }

    private const uint OtherFrame = 0x700000;

    [Test]
    public void InstructionCrossingAPage_IsDecodedOnce_AndSeesTheNextPageRemapped()
    {
        var (m, pt, stop) = CallCrossingInstruction(pt => a =>
        {
            a.mov(__dword_ptr[pt.PteAddress(UserCode + 0x1000)], OtherFrame | P | RW);
            a.invlpg(__byte_ptr[UserCode + 0x1000]);
            a.call(edx);
            a.mov(edi, eax);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(100u * 0x44332211u)));
            Assert.That(m.Cpu.Edi, Is.EqualTo(0x66552211u), "the bytes of the page the next page maps to now");
            Assert.That(m.Cpu.BlocksDecoded, Is.LessThan(20), "the crossing instruction was decoded once for the loop, not at every call");
        }
    }

    [Test]
    public void InstructionCrossingAPage_SeesAStoreIntoItsBytesInTheNextPage()
    {
        var (m, _, stop) = CallCrossingInstruction(_ => a =>
        {
            a.mov(__byte_ptr[UserCode + 0x1000], 0x77);
            a.call(edx);
            a.mov(edi, eax);
        });
        using (m)
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Edi, Is.EqualTo(0x44772211u));
        }
    }

    [Test]
    public void DataAccessCrossingIntoAnUnmappedPage_FaultsBeforeWritingAnything()
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(TargetPage, Frame, P | RW);
        m.Load(a =>
        {
            a.mov(eax, 0xFFFFFFFF);
            a.mov(__dword_ptr[TargetPage + 0xFFE], eax);
            a.hlt();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(2u));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(TargetPage + 0x1000));
        Assert.That(m.Memory.Read16(Frame + 0xFFE), Is.EqualTo((ushort)0), "the first page was not written");
    }

    [Test]
    public void SupervisorPageCachedByTheKernel_StillFaultsForRing3()
    {
        // The kernel's read fills a translation; ring 3 must not reuse it without the user check.
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m, P | RW | US);
        pt.Map(UserCode, UserCode, P | US);
        pt.Map(TargetPage, Frame, P | RW);
        m.Assemble(UserCode, a =>
        {
            a.mov(eax, __dword_ptr[TargetPage]);
            a.@int(0x80);
        });
        m.Load(a =>
        {
            a.mov(ebx, __dword_ptr[TargetPage]);
            a.mov(eax, SystemTables.UserData);
            a.mov(ds, ax);              // a DPL 0 DS would be nulled by the return to ring 3
            a.push(SystemTables.UserData);
            a.push(0x7F000);
            a.push(SystemTables.UserCode);
            a.push(UserCode);
            a.retf();
        });
        pt.Enable();
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(5u));
        Assert.That(t.Stack(1), Is.EqualTo(UserCode));
    }

    [Test]
    public void TurningWpOn_RevokesAKernelWriteToAReadOnlyPage_ThatWasAllowedBefore()
    {
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(TargetPage, Frame, P);
        m.Load(a =>
        {
            a.mov(__dword_ptr[TargetPage], 1);      // WP off: allowed, and cached
            a.mov(eax, cr0);
            a.or(eax, (int)MiniHv.Cpu.Cpu.CR0_WP);
            a.mov(cr0, eax);
            a.mov(__dword_ptr[TargetPage], 2);      // WP on: #PF
            a.hlt();
        });
        pt.Enable(wp: false);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(Vectors.PF, stop);
        Assert.That(t.Stack(0), Is.EqualTo(3u));
        Assert.That(m.Memory.Read32(Frame), Is.EqualTo(1u));
    }

    [Test]
    public void EnablingPagingByMovCr0_TranslatesTheNextInstructionFetch()
    {
        // Identity-mapped code keeps running across the switch; data at a remapped address shows paging is on.
        using var m = NewMachine();
        var pt = new PageTables(m);
        pt.Map(TargetPage, Frame, P | RW);
        m.Memory.Write32(Frame, 0xFEED);
        m.Load(a =>
        {
            a.mov(eax, PageTables.Directory);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)MiniHv.Cpu.Cpu.CR0_PG));
            a.mov(cr0, eax);
            a.mov(ebx, __dword_ptr[TargetPage]);
            a.hlt();
        });
        Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
        Assert.That(m.Cpu.PagingEnabled, Is.True);
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0xFEEDu));
    }

    [Test]
    public void Ring3WithSupervisorOnlySystemTables_CanStillTakeInterruptsAndLoadSegments()
    {
        // GDT, IDT, TSS and the kernel stack sit on supervisor pages: the processor's own accesses
        // to them are supervisor accesses even while CPL is 3.
        using var m = NewMachine();
        var t = new SystemTables(m);
        var pt = new PageTables(m, P | RW);
        pt.Map(UserCode, UserCode, P | US);
        pt.Map(0x7E000, 0x7E000, P | RW | US);
        t.SetGate(0x40, Desc.Gate(SystemTables.KernelCode, 0x190000, dpl: 3));
        t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
        t.SetGdt(4, Desc.FlatData(3));              // not yet accessed: the load must set A
        m.Assemble(0x190000, a =>
        {
            a.mov(ebx, 0x42);
            a.iretd();
        });
        m.Assemble(UserCode, a =>
        {
            a.@int(0x40);
            a.mov(eax, SystemTables.UserData);
            a.mov(ds, ax);
            a.mov(__dword_ptr[0x7E100], 0x99);
            a.@int(0x80);
        });
        t.EnterUserMode(UserCode, 0x7F000);
        pt.Enable(wp: true);
        var stop = m.Cpu.Run(100);
        t.AssertHaltedIn(0x80, stop);
        Assert.That(m.Cpu.Ebx, Is.EqualTo(0x42u));
        Assert.That(m.Memory.Read32(0x7E100), Is.EqualTo(0x99u));
        Assert.That((t.GetGdt(4) >> 40) & 1, Is.EqualTo(1ul), "accessed bit written through a supervisor page");
    }
}

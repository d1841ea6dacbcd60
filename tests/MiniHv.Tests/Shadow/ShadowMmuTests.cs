using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Shadow;

/// <summary>
/// The shadow MMU seen from guest code: a guest that edits its own page tables with plain stores sees what
/// a real MMU gives, shadows survive CR3 switches, the reverse map finds every mapping of a frame, and a
/// change of a frame's backing reaches every shadow entry that maps it. (Every architectural paging test
/// in <see cref="PagingTests"/> also runs on the shadow MMU.)
/// </summary>
public class ShadowMmuTests
{
    private const uint P = PageTables.P, RW = PageTables.RW, US = PageTables.US, A = PageTables.A, D = PageTables.D;
    private const uint Target = 0x800000, FrameA = 0x600000, FrameB = 0x601000, FrameC = 0x602000;

    /// <summary>A shadow-MMU machine with FrameA, FrameB and FrameC each holding a word of its own (TlbHandOverTests starts from it too).</summary>
    internal static (TestMachine M, SystemTables T, PageTables Pt) Machine()
    {
        var m = new TestMachine(PagingMode.Shadow);
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        m.Memory.Write32(FrameA, 0xAAAA0001);
        m.Memory.Write32(FrameB, 0xBBBB0002);
        m.Memory.Write32(FrameC, 0xCCCC0003);
        return (m, t, pt);
    }

    private static StopReason Run(TestMachine m, PageTables pt, Action<Assembler> code, bool wp = true)
    {
        m.Load(a =>
        {
            code(a);
            a.hlt();
        });
        pt.Enable(wp: wp);
        return m.Cpu.Run(100_000);
    }

    [Test]
    public void MappingANotPresentPage_WithAPlainStore_NeedsNoInvlpg()
    {
        // A not-present entry is never cached, so the architecture lets the guest use the page at once.
        var (m, t, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, 0);     // the table exists, the entry is not present
            pt.Map(Target + 0x1000, FrameC, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(ecx, __dword_ptr[Target + 0x1000]);   // a shadow is built from the table: it is tracked now
                a.mov(__dword_ptr[pte], FrameB | P | RW);
                a.mov(eax, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Eax, Is.EqualTo(0xBBBB0002u));
            Assert.That(m.Shadow!.Stats.PageTableWrites, Is.EqualTo(1), "the store to the table was a hidden fault");
        }
    }

    [Test]
    public void RemapWithInvlpg_ReadsTheNewFrame()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], FrameB | P | RW);
                a.invlpg(__byte_ptr[Target]);
                a.mov(ebx, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], FrameC | P | RW);
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);                       // a CR3 load flushes as well
                a.mov(edx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx, m.Cpu.Edx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u, 0xCCCC0003u)));
        }
    }

    [Test]
    public void MakingAPageReadOnly_ThenWritingIt_FaultsWithErrorCode3()
    {
        var (m, t, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(__dword_ptr[Target], 0x1234);     // writable and dirty now: a direct write entry
                a.mov(__dword_ptr[pte], FrameA | P);
                a.invlpg(__byte_ptr[Target]);
                a.mov(__dword_ptr[Target], 0x5678);
            });
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(3u), "present | write");
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Target));
            Assert.That(m.Memory.Read32(FrameA), Is.EqualTo(0x1234u));
        }
    }

    [Test]
    public void TakingUserAccessAway_ThenTouchingThePageFromRing3_Faults()
    {
        var (m, t, pt) = Machine();
        using (m)
        {
            const uint UserCode = 0x400000;
            pt.Map(Target, FrameA, P | RW | US);
            pt.Map(UserCode, 0x500000, P | US);
            uint pte = pt.PteAddress(Target);
            m.Assemble(0x500000, a =>
            {
                a.mov(eax, __dword_ptr[Target]);   // allowed: cached in the user shadow
                a.@int(0x80);                      // to the kernel, which revokes U
                a.mov(ebx, __dword_ptr[Target]);   // must fault now
                a.hlt();
            });
            // INT 0x80 lands in a stub that halts; the kernel part below is run by hand.
            t.SetGate(0x80, Desc.Gate(SystemTables.KernelCode, SystemTables.Stub(0x80), dpl: 3));
            pt.Enable(wp: true);
            t.EnterUserMode(UserCode, 0x7FF000);
            pt.Map(0x7FE000, 0x540000, P | RW | US);
            var stop = m.Cpu.Run(1000);
            t.AssertHaltedIn(0x80, stop);
            Assert.That(m.Cpu.Eax, Is.EqualTo(0xAAAA0001u));

            // The kernel (ring 0, in the stub's frame) clears U with a plain store and returns with INVLPG.
            m.Assemble(0x190000, a =>
            {
                a.mov(__dword_ptr[pte], FrameA | P | RW);
                a.invlpg(__byte_ptr[Target]);
                a.iretd();
            });
            m.Cpu.Eip = 0x190000;
            m.Cpu.Wake();
            stop = m.Cpu.Run(1000);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(5u), "present | user, read");
        }
    }

    [Test]
    public void UnmappingWithInvlpg_FaultsNotPresent()
    {
        var (m, t, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], 0);
                a.invlpg(__byte_ptr[Target]);
                a.mov(ebx, __dword_ptr[Target]);
            });
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(t.Stack(0), Is.EqualTo(0u));
            Assert.That(m.Shadow!.MappingsOf(FrameA >> 12), Is.Empty);
        }
    }

    [Test]
    public void ChangingADirectoryEntry_ThenReloadingCr3_UsesTheNewTable()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pde = pt.PdeAddress(Target);
            const uint OtherTable = 0x30000;
            m.Memory.Write32(OtherTable, FrameB | P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pde], OtherTable | P | RW | US);
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);
                a.mov(ebx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u)));
            Assert.That(m.Shadow!.IsGuestTable(OtherTable >> 12), "the new table is tracked now");
        }
    }

    [Test]
    public void ReadThenWrite_KeepsTheEntryReadOnlyUntilTheGuestPteIsDirty()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);                        // empty the TLB: the shadow entry answers the next read
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[Target], 7);          // the shadow entry is not dirty: the walk sets D
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(pt.Pte(Target) & (A | D), Is.EqualTo(A | D));
            Assert.That(m.Shadow!.Stats.AdUpdates, Is.EqualTo(1));
            Assert.That(m.Memory.Read32(FrameA), Is.EqualTo(7u));
        }
    }

    [Test]
    public void TwoAddressSpaces_SwitchingBackAndForth_KeepHittingTheirShadows()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);

            // A second directory: the same kernel table for the first 4 MiB, its own table for Target.
            const uint Directory2 = 0x40000, Table2 = 0x41000;
            m.Memory.Write32(Directory2, m.Memory.Read32(PageTables.Directory));
            m.Memory.Write32(Directory2 + ((Target >> 22) * 4), Table2 | P | RW | US);
            m.Memory.Write32(Table2, FrameB | P | RW);
            var stop = Run(m, pt, a =>
            {
                var loop = a.CreateLabel();
                a.xor(esi, esi);
                a.mov(ecx, 100);
                a.Label(ref loop);
                a.mov(edx, Directory2);
                a.mov(cr3, edx);
                a.add(esi, __dword_ptr[Target]);
                a.mov(edx, PageTables.Directory);
                a.mov(cr3, edx);
                a.add(esi, __dword_ptr[Target]);
                a.loop(loop);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(100u * (0xAAAA0001u + 0xBBBB0002u))));
            var s = m.Shadow!.Stats;
            Assert.That(s.ShadowsCreated, Is.EqualTo(2));
            Assert.That(s.Cr3Switches, Is.EqualTo(200), "the load before paging was on does not count");
            Assert.That(s.Cr3SwitchHits, Is.EqualTo(199), "all but the first visit of the second directory");
            Assert.That(s.ShadowFills, Is.LessThan(20), "entries were built once, not at every switch");
        }
    }

    /// <summary><paramref name="n"/> page directories above the code, each a copy of the first (the same mappings).</summary>
    private static uint[] CopiesOfTheDirectory(TestMachine m, int n)
    {
        uint[] dirs = Enumerable.Range(0, n).Select(i => 0x400000u + ((uint)i * 0x1000)).ToArray();
        foreach (uint d in dirs)
            m.Memory.Write32(d, m.Memory.Read32(PageTables.Directory));
        return dirs;
    }

    [Test]
    public void CachedDirectories_ReadFromAnotherThread_WhileSpacesComeAndGo_NeverFail()
    {
        // The sharing scanner's attribution reads the list on its own thread while the guest's thread creates and
        // drops spaces: cycling through more directories than the cache holds drops and creates one at every switch.
        var (m, _, pt) = Machine();
        using (m)
        {
            int n = ShadowMmu.CachedSpaces + 4;
            uint[] dirs = CopiesOfTheDirectory(m, n);
            Exception? failure = null;
            long reads = 0;
            using var done = new ManualResetEventSlim();
            var reader = new Thread(() =>
            {
                try
                {
                    while (!done.IsSet)
                    {
                        foreach (uint d in m.Shadow!.CachedDirectories)
                            Assert.That(d, Is.Not.Zero);
                        reads++;
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            reader.Start();
            StopReason stop;
            try
            {
                stop = Run(m, pt, a =>
                {
                    var pass = a.CreateLabel();
                    a.mov(ecx, 20);
                    a.Label(ref pass);
                    foreach (uint d in dirs)
                    {
                        a.mov(edx, d);
                        a.mov(cr3, edx);
                    }

                    a.dec(ecx);
                    a.jnz(pass);
                });
            }
            finally
            {
                done.Set();
                reader.Join();
            }

            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(failure, Is.Null, () => $"{failure}");
            Assert.That(m.Shadow!.Stats.ShadowsDropped, Is.GreaterThan(18 * n), "spaces dropped and made again all along");
            Assert.That(reads, Is.GreaterThan(0));
        }
    }

    [Test]
    public void MoreAddressSpacesThanTheCacheHolds_DropsTheLeastRecentlyUsed()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            // Four directories more than the cache holds, each a copy of the first (above the code): the 4 spaces
            // used longest ago, counting the first directory's, are dropped.
            int n = ShadowMmu.CachedSpaces + 4;
            uint[] dirs = CopiesOfTheDirectory(m, n);
            var stop = Run(m, pt, a =>
            {
                foreach (uint d in dirs)
                {
                    a.mov(edx, d);
                    a.mov(cr3, edx);
                    a.mov(eax, __dword_ptr[0x1000]);
                }
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Shadow!.SpaceCount, Is.EqualTo(ShadowMmu.CachedSpaces));
            Assert.That(m.Shadow.Stats.ShadowsDropped, Is.EqualTo(n + 1 - ShadowMmu.CachedSpaces));
            Assert.That(m.Shadow.CachedDirectories, Does.Not.Contain(dirs[0] >> 12).And.Contain(dirs[^1] >> 12));
        }
    }

    [Test]
    public void TableBehindEverySpace_ChangedAfterManyEvictions_ReachesEveryCachedSpace()
    {
        // One guest page table behind a slot of every address space, as a kernel's tables are: cycling through more
        // spaces than the cache holds drops and adds its users thousands of times. A store to it must still reach every
        // space that remains cached, or one of them would keep translating through the old entry.
        var (m, _, pt) = Machine();
        using (m)
        {
            const uint Old = 0x700000, New = 0x701000;
            m.Memory.Write32(Old, 0x11110001);
            m.Memory.Write32(New, 0x22220002);
            pt.Map(Target, Old, P | RW);
            uint pte = pt.PteAddress(Target);
            int n = ShadowMmu.CachedSpaces + 64;
            uint[] dirs = CopiesOfTheDirectory(m, n);
            foreach (uint d in dirs)
                m.Memory.Write32(d + ((Target >> 22) * 4), pt.Pde(Target));
            var stop = Run(m, pt, a =>
            {
                var pass = a.CreateLabel();
                var space = a.CreateLabel();
                var check = a.CreateLabel();
                var fresh = a.CreateLabel();
                a.mov(ebp, 2);
                a.Label(ref pass);
                a.xor(esi, esi);
                a.Label(ref space);
                a.mov(edx, esi);
                a.shl(edx, 12);
                a.add(edx, dirs[0]);
                a.mov(cr3, edx);
                a.mov(eax, __dword_ptr[Target]);
                a.inc(esi);
                a.cmp(esi, n);
                a.jb(space);
                a.dec(ebp);
                a.jnz(pass);

                a.mov(__dword_ptr[pte], New | P | RW);

                // Every space still cached, in turn: count those that read the old frame.
                a.xor(edi, edi);
                a.mov(esi, n - ShadowMmu.CachedSpaces);
                a.Label(ref check);
                a.mov(edx, esi);
                a.shl(edx, 12);
                a.add(edx, dirs[0]);
                a.mov(cr3, edx);
                a.cmp(__dword_ptr[Target], 0x22220002);
                a.je(fresh);
                a.inc(edi);
                a.Label(ref fresh);
                a.inc(esi);
                a.cmp(esi, n);
                a.jb(check);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Shadow!.Stats.ShadowsDropped, Is.GreaterThan(n), "spaces were evicted all along");
            Assert.That(m.Shadow.Stats.Cr3SwitchHits, Is.GreaterThanOrEqualTo(ShadowMmu.CachedSpaces), "the checks ran in cached spaces");
            Assert.That(m.Cpu.Edi, Is.Zero, "cached spaces that still read the old frame");
        }
    }

    [Test]
    public void ReverseMap_FindsEveryMappingOfAFrame_InEveryAddressSpace()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(0x800000, FrameA, P | RW);
            pt.Map(0x801000, FrameA, P | RW);
            pt.Map(0xC00000, FrameA, P);
            const uint Directory2 = 0x40000;
            m.Memory.Write32(Directory2, m.Memory.Read32(PageTables.Directory));
            m.Memory.Write32(Directory2 + 8, m.Memory.Read32(PageTables.Directory + 8)); // the table of 0x800000
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[0x800000]);
                a.mov(eax, __dword_ptr[0x801000]);
                a.mov(eax, __dword_ptr[0xC00000]);
                a.mov(edx, Directory2);
                a.mov(cr3, edx);
                a.mov(eax, __dword_ptr[0x801000]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            var mappings = m.Shadow!.MappingsOf(FrameA >> 12);
            Assert.That(mappings, Is.EquivalentTo(new[]
            {
                (PageTables.Directory >> 12, 0x800u), (PageTables.Directory >> 12, 0x801u), (PageTables.Directory >> 12, 0xC00u),
                (Directory2 >> 12, 0x801u),
            }));
        }
    }

    [Test]
    public unsafe void ChangingAFramesBacking_ShootsDownItsEntries_AndAWriteBreaksTheSharing()
    {
        // What a merge does to a frame (repoint the gfn at an identical read-only copy), done by hand.
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(0x800000, FrameA, P | RW);
            pt.Map(0x801000, FrameA, P | RW);
            var guest = m.Memory.Guest!;
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[0x800000]);
                a.mov(__dword_ptr[0x801004], 0x55);      // dirty, direct write entry
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));

            uint gfn = FrameA >> 12;
            Mfn copy = guest.Machine.AllocateCopy(guest.P2m.GetMfn(gfn));
            guest.Machine.AddRef(copy);                   // a second sharer holds it too
            guest.P2m.Remap(gfn, copy, writable: false);
            Assert.That(m.Shadow!.Stats.Shootdowns, Is.EqualTo(2));
            Assert.That(m.Shadow.MappingsOf(gfn), Is.Empty);

            m.Load(a =>
            {
                a.mov(ebx, __dword_ptr[0x800004]);        // reads the shared copy
                a.mov(__dword_ptr[0x800008], 0x66);       // breaks it for this gfn
                a.mov(ecx, __dword_ptr[0x801008]);
                a.hlt();
            });
            m.Cpu.Wake();
            stop = m.Cpu.Run(1000);
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((m.Cpu.Ebx, m.Cpu.Ecx), Is.EqualTo((0x55u, 0x66u)));
            Assert.That(guest.CopyOnWriteBreaks, Is.EqualTo(1));
            Assert.That(guest.P2m.GetMfn(gfn), Is.Not.EqualTo(copy));
            Assert.That(*(uint*)(guest.Machine.FrameAddress(copy) + 8), Is.EqualTo(0u), "the shared copy never changes");
            guest.Machine.Release(copy);
        }
    }

    [Test]
    public void SelfMappedDirectory_ShowsTheGuestItsOwnEntries_AndFollowsTheirChanges()
    {
        // JOS's UVPT: the directory maps itself, so one frame is a directory and a page table at once.
        var (m, _, pt) = Machine();
        using (m)
        {
            const uint Uvpt = 0xEF400000;
            uint slot = Uvpt >> 22;
            pt.Map(Target, FrameA, P | RW);
            m.Memory.Write32(PageTables.Directory + (slot * 4), PageTables.Directory | P | US);
            uint uvptOfTarget = Uvpt + ((Target >> 12) * 4);           // the PTE of Target, through UVPT
            uint uvpdOfTarget = Uvpt + (slot << 12) + ((Target >> 22) * 4); // the PDE of Target, through UVPT
            const uint OtherTable = 0x30000;
            m.Memory.Write32(OtherTable, FrameC | P | RW);
            uint pde = pt.PdeAddress(Target);
            uint originalTable = pt.Pde(Target) & 0xFFFFF000;
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[uvptOfTarget]);
                a.mov(ebx, __dword_ptr[uvpdOfTarget]);
                a.mov(__dword_ptr[pde], OtherTable | P | RW | US);   // a store to the directory, as a directory
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);
                a.mov(ecx, __dword_ptr[uvptOfTarget]);               // the table behind it changed
                a.mov(edx, __dword_ptr[uvpdOfTarget]);               // and the entry itself
                a.mov(esi, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Eax & 0xFFFFF000, Is.EqualTo(FrameA));
            Assert.That(m.Cpu.Ebx & 0xFFFFF000, Is.EqualTo(originalTable));
            Assert.That(m.Cpu.Ecx & 0xFFFFF000, Is.EqualTo(FrameC));
            Assert.That(m.Cpu.Edx & 0xFFFFF000, Is.EqualTo(OtherTable));
            Assert.That(m.Cpu.Esi, Is.EqualTo(0xCCCC0003u));
            Assert.That(m.Shadow!.IsGuestTable(PageTables.Directory >> 12));
        }
    }

    [Test]
    public void TableWrittenOverAndOverWithoutUse_IsNoLongerShadowed()
    {
        // A page table whose directory entry is gone, recycled as data: its stores stop being hidden faults.
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint table = pt.Pde(Target) & 0xFFFFF000;
            uint pde = pt.PdeAddress(Target);
            const uint Directory2 = 0x40000;
            m.Memory.Write32(Directory2, m.Memory.Read32(PageTables.Directory));
            m.Memory.Write32(Directory2 + ((Target >> 22) * 4), table | P | RW);
            var stop = Run(m, pt, a =>
            {
                var fill = a.CreateLabel();
                a.mov(eax, __dword_ptr[Target]);         // the table is in use in this space...
                a.mov(edx, Directory2);
                a.mov(cr3, edx);
                a.mov(eax, __dword_ptr[Target]);         // ...and in the second
                a.mov(edi, table);
                a.mov(ecx, 1024);
                a.xor(eax, eax);
                a.Label(ref fill);
                a.mov(__dword_ptr[edi], eax);            // then zeroed word by word, never walked again
                a.add(edi, 4);
                a.loop(fill);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            var s = m.Shadow!.Stats;
            Assert.That(s.TablesUnshadowed, Is.EqualTo(1));
            Assert.That(s.PageTableWrites, Is.EqualTo(MiniHv.Hv.Shadow.ShadowMmu.FloodWrites + 1));
            Assert.That(m.Shadow.IsGuestTable(table >> 12), Is.False);
        }
    }

    [Test]
    public void TurningPagingOff_DropsEveryShadow()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(ecx, cr0);
                a.and(ecx, 0x7FFFFFFF);
                a.mov(cr0, ecx);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Shadow!.SpaceCount, Is.EqualTo(0));
            Assert.That(m.Shadow.EntryCount, Is.EqualTo(0));
        }
    }

    [Test]
    public void DevicePage_IsShadowed_SoAfterACr3ReloadItsTranslationNeedsNoWalk()
    {
        // The PTE is changed behind the shadow's back (not by a guest store): only a walk would see it.
        var (m, _, pt) = Machine();
        using (m)
        {
            const uint Device = 0xFEE0_0000;
            pt.Map(Target, Device, P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target + 0x20]);
                a.mov(__dword_ptr[Target + 0xB0], 0);   // the first write sets Dirty through a walk
                a.hlt();
                a.mov(ebx, cr3);
                a.mov(cr3, ebx);                        // the CPU's TLB forgets; the shadow is kept
                a.mov(eax, __dword_ptr[Target + 0x20]);
                a.mov(__dword_ptr[Target + 0xB0], 0);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            m.Memory.Write32(pt.PteAddress(Target), (Device + 0x1000) | P | RW | A | D);
            m.Cpu.Wake();
            Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.UnbackedReadLog, Is.EqualTo(new[] { (Device + 0x20, 4), (Device + 0x20, 4) }));
            Assert.That(m.Memory.UnbackedWriteLog.Select(w => w.Address), Is.EqualTo(new[] { Device + 0xB0, Device + 0xB0 }));
            Assert.That(m.Shadow!.IsGuestTable(pt.PteAddress(Target) >> 12), Is.True, "the PTE's table is tracked, so a guest store to it would drop the entry");
        }
    }

    [Test]
    public void XchgOfAPte_IsAPageTableWrite_AndTheNewMappingIsSeen()
    {
        // Kernels swap PTEs with XCHG (and set their bits with LOCK OR): the locked store into a tracked table is a
        // hidden fault like a plain one, and the shadow follows it.
        var (m, _, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            pt.Map(Target + 0x1000, FrameC, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(ecx, __dword_ptr[Target]);                 // a shadow is built from the table: it is tracked now
                a.mov(eax, FrameB | P | RW);
                a.xchg(__dword_ptr[pte], eax);
                a.invlpg(__byte_ptr[Target]);
                a.mov(ebx, __dword_ptr[Target]);
                a.@lock.or(__dword_ptr[pte + 4], US);          // the next PTE: a locked OR on the same table
                a.mov(edx, __dword_ptr[Target + 0x1000]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Ecx, m.Cpu.Ebx, m.Cpu.Edx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u, 0xCCCC0003u)));
            Assert.That(m.Cpu.Eax & ~(A | D), Is.EqualTo(FrameA | P | RW), "XCHG returned the old entry");
            Assert.That(pt.Pte(Target + 0x1000) & ~(A | D), Is.EqualTo(FrameC | P | RW | US));
            Assert.That(m.Shadow!.Stats.PageTableWrites, Is.EqualTo(2), "both stores to the table were hidden faults");
        }
    }

    [Test]
    public void DevicePage_GuestStoreToItsPte_DropsTheShadowEntry()
    {
        var (m, _, pt) = Machine();
        using (m)
        {
            const uint Device = 0xFEE0_0000;
            pt.Map(Target, Device, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], (Device + 0x1000) | P | RW);
                a.mov(ebx, cr3);
                a.mov(cr3, ebx);                        // drops the CPU's TLB, keeps the shadow: the store must have dropped the entry
                a.mov(eax, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.UnbackedReadLog, Is.EqualTo(new[] { (Device, 4), (Device + 0x1000, 4) }));
        }
    }
}

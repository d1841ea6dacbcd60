using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Shadow;

/// <summary>
/// The CPU's TLB tagged by address space under the shadow MMU: a CR3 load switches to the space's own set instead
/// of emptying the TLB, so translations of an inactive space stay cached. Whatever changes them while the space is
/// inactive (a store to its page tables, INVLPG elsewhere, a shootdown through the reverse map, a copy-on-write
/// break) must still be seen when the guest switches back, as after a real CR3 load.
/// </summary>
public class TaggedTlbTests
{
    private const uint P = PageTables.P, RW = PageTables.RW;
    private const uint Target = 0x800000, FrameA = 0x600000, FrameB = 0x601000, FrameC = 0x602000;
    private const uint Directory2 = 0x40000, Table2 = 0x41000;

    /// <summary>
    /// Two address spaces: the first directory maps Target to <paramref name="first"/>; the second shares the first
    /// 4 MiB (code, stacks, both spaces' tables) and maps Target through a table of its own to <paramref name="second"/>.
    /// </summary>
    private static (TestMachine M, SystemTables T, PageTables Pt) TwoSpaces(uint first, uint second)
    {
        var m = new TestMachine(PagingMode.Shadow);
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        m.Memory.Write32(FrameA, 0xAAAA0001);
        m.Memory.Write32(FrameB, 0xBBBB0002);
        m.Memory.Write32(FrameC, 0xCCCC0003);
        pt.Map(Target, first, P | RW);
        m.Memory.Write32(Directory2, m.Memory.Read32(PageTables.Directory));
        m.Memory.Write32(Directory2 + ((Target >> 22) * 4), Table2 | P | RW | PageTables.US);
        m.Memory.Write32(Table2 + (((Target >> 12) & 0x3FF) * 4), second | P | RW);
        return (m, t, pt);
    }

    private static StopReason Run(TestMachine m, PageTables pt, Action<Assembler> code)
    {
        m.Load(a =>
        {
            code(a);
            a.hlt();
        });
        pt.Enable();
        return m.Cpu.Run(1_000_000);
    }

    private static void Switch(Assembler a, uint directory)
    {
        a.mov(edx, directory);
        a.mov(cr3, edx);
    }

    [Test]
    public void SwitchingBackAndForth_KeepsBothSpacesTranslationsCached()
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameB);
        using (m)
        {
            var stop = Run(m, pt, a =>
            {
                var loop = a.CreateLabel();
                a.xor(esi, esi);
                a.mov(ecx, 200);
                a.Label(ref loop);
                Switch(a, Directory2);
                a.add(esi, __dword_ptr[Target]);
                Switch(a, PageTables.Directory);
                a.add(esi, __dword_ptr[Target]);
                a.loop(loop);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(200u * (0xAAAA0001u + 0xBBBB0002u))));
            // Without tags each of the 400 switches would refill at least the code page and Target's page.
            Assert.That(m.Cpu.TlbFills, Is.LessThan(20), "the spaces' entries survived the switches");
        }
    }

    /// <summary>
    /// Code at Target differs between the spaces (FrameA: add esi, 1; ret. FrameB: add edi, 1; ret); a routine in
    /// the shared first 4 MiB calls it after each switch, so its block is linked to Target's block of whichever
    /// space ran it first. The link must not be followed in the other space.
    /// </summary>
    private static StopReason CallTargetFromBothSpaces(TestMachine m, PageTables pt, int rounds)
    {
        m.Memory.Write32(FrameA, 0xC301C683);
        m.Memory.Write32(FrameB, 0xC301C783);
        return Run(m, pt, a =>
        {
            var loop = a.CreateLabel();
            var common = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(esi, esi);
            a.xor(edi, edi);
            a.mov(ecx, rounds);
            a.Label(ref loop);
            Switch(a, Directory2);
            a.call(common);
            Switch(a, PageTables.Directory);
            a.call(common);
            a.loop(loop);
            a.jmp(done);
            a.Label(ref common);
            a.mov(eax, Target);
            a.call(eax);
            a.ret();
            a.Label(ref done);
        });
    }

    [TestCase(CpuTier.Interp)]
    [TestCase(CpuTier.Jit)]
    public void CodeMappedDifferentlyInTwoSpaces_RunsEachSpacesOwnCode(CpuTier tier)
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameB);
        using (m)
        {
            m.Cpu.Tier = tier;
            m.Cpu.JitThreshold = 1;
            m.Cpu.CompileInline = true;
            var stop = CallTargetFromBothSpaces(m, pt, 100);
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Esi, m.Cpu.Edi), Is.EqualTo((100u, 100u)), "each space ran the code its own tables map");
            if (tier == CpuTier.Jit)
                Assert.That(m.Cpu.InstructionsCompiled, Is.GreaterThan(0));
        }
    }

    [Test]
    public void SwitchingBackAndForth_KeepsTheBlockLinks()
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameB);
        using (m)
        {
            var stop = CallTargetFromBothSpaces(m, pt, 200);
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Esi, m.Cpu.Edi), Is.EqualTo((200u, 200u)));

            // A CR3 load ends its block, so the block after each of the 400 switches is looked up; the routine,
            // the code at Target and the return are reached through links made in the first round of each space
            // (with links dropped at every switch they would be looked up too: about 4 per switch).
            Assert.That(m.Cpu.BlockLookups, Is.LessThan(500), "links made in one space were followed after switching back");
        }
    }

    [Test]
    public void PteStoreInTheInactiveSpace_IsSeenOnSwitchingBack()
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameB);
        using (m)
        {
            uint pte = pt.PteAddress(Target); // the first space's table, mapped in both spaces
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                Switch(a, Directory2);
                a.mov(ebx, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], FrameC | P | RW); // no INVLPG: the CR3 load back is the flush
                Switch(a, PageTables.Directory);
                a.mov(ecx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx, m.Cpu.Ecx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u, 0xCCCC0003u)));
        }
    }

    [Test]
    public void InvlpgInOneSpace_LeavesTheOtherSpacesTranslation()
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameB);
        using (m)
        {
            uint pte2 = Table2 + (((Target >> 12) & 0x3FF) * 4);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                Switch(a, Directory2);
                a.mov(ebx, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte2], FrameC | P | RW);
                a.invlpg(__byte_ptr[Target]);
                a.mov(ecx, __dword_ptr[Target]);
                Switch(a, PageTables.Directory);
                a.mov(esi, __dword_ptr[Target]);
                Switch(a, Directory2);
                a.mov(edi, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx, m.Cpu.Ecx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u, 0xCCCC0003u)));
            Assert.That((m.Cpu.Esi, m.Cpu.Edi), Is.EqualTo((0xAAAA0001u, 0xCCCC0003u)));
        }
    }

    [Test]
    public unsafe void ShootdownThroughTheReverseMap_ReachesTheInactiveSpace()
    {
        // Both spaces map the same guest frame; its backing changes while the first space is inactive.
        var (m, _, pt) = TwoSpaces(FrameA, FrameA);
        using (m)
        {
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                Switch(a, Directory2);
                a.mov(ebx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");

            // Repoint the gfn at another machine frame. A merge's copy would hold the same bytes; this one differs,
            // so that a stale translation anywhere would show.
            var guest = m.Memory.Guest!;
            uint gfn = FrameA >> 12;
            Mfn other = guest.Machine.AllocateCopy(guest.P2m.GetMfn(gfn));
            *(uint*)guest.Machine.FrameAddress(other) = 0x0DDF00D5;
            guest.P2m.Remap(gfn, other, writable: true);
            Assert.That(m.Shadow!.MappingsOf(gfn), Is.Empty);

            m.Load(a =>
            {
                a.mov(ecx, __dword_ptr[Target]);
                Switch(a, PageTables.Directory);
                a.mov(esi, __dword_ptr[Target]);
                a.hlt();
            });
            m.Cpu.Wake();
            stop = m.Cpu.Run(1000);
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx), Is.EqualTo((0xAAAA0001u, 0xAAAA0001u)));
            Assert.That((m.Cpu.Ecx, m.Cpu.Esi), Is.EqualTo((0x0DDF00D5u, 0x0DDF00D5u)));
        }
    }

    [Test]
    public unsafe void CopyOnWriteBreakInOneSpace_IsSeenByTheOtherSpaceHoldingTheFrame()
    {
        var (m, _, pt) = TwoSpaces(FrameA, FrameA);
        using (m)
        {
            // The frame's machine frame is shared (as after a merge): read-only for the guest, a write breaks it.
            var guest = m.Memory.Guest!;
            uint gfn = FrameA >> 12;
            Mfn shared = guest.Machine.AllocateCopy(guest.P2m.GetMfn(gfn));
            guest.Machine.AddRef(shared); // a second sharer holds it too
            guest.P2m.Remap(gfn, shared, writable: false);

            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);         // both spaces cache the shared frame
                Switch(a, Directory2);
                a.mov(ebx, __dword_ptr[Target]);
                a.mov(__dword_ptr[Target], 0x12345678);  // the break, in the second space
                Switch(a, PageTables.Directory);
                a.mov(ecx, __dword_ptr[Target]);         // the first space must see the write
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx, m.Cpu.Ecx), Is.EqualTo((0xAAAA0001u, 0xAAAA0001u, 0x12345678u)));
            Assert.That(guest.CopyOnWriteBreaks, Is.EqualTo(1));
            Assert.That(*(uint*)guest.Machine.FrameAddress(shared), Is.EqualTo(0xAAAA0001u), "the shared frame never changes");
            guest.Machine.Release(shared);
        }
    }
}

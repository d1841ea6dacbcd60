using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Shadow;

/// <summary>
/// Shadows of PAE guest tables seen from guest code: stores to a page table or a page directory reach the shadow
/// (each 4 MiB slot built from two half tables), PDPT changes reach it at the next load, several PDPTs in one page
/// are several address spaces, and turning PAE on drops the two-level shadows. (The architectural PAE tests in
/// <see cref="PaePagingTests"/> also run on the shadow MMU.)
/// </summary>
public class ShadowPaeTests
{
    private const ulong P = 1, RW = 2, US = 4;
    private const uint Target = 0x4080_0000, Upper = Target + 0x20_0000;
    private const uint FrameA = 0x60_0000, FrameB = 0x60_1000, FrameC = 0x60_2000;

    private static (TestMachine M, PaeTables Pt) Machine()
    {
        var m = new TestMachine(PagingMode.Shadow);
        _ = new SystemTables(m);
        var pt = new PaeTables(m);
        m.Memory.Write32(FrameA, 0xAAAA0001);
        m.Memory.Write32(FrameB, 0xBBBB0002);
        m.Memory.Write32(FrameC, 0xCCCC0003);
        return (m, pt);
    }

    private static StopReason Run(TestMachine m, PaeTables pt, Action<Assembler> code)
    {
        m.Load(a =>
        {
            code(a);
            a.hlt();
        });
        pt.Enable(nxe: true, wp: true);
        return m.Cpu.Run(100_000);
    }

    [Test]
    public void StoreToAPteOfTheUpperHalf_DropsThatPageOnly_AndIsSeenWithoutInvlpg()
    {
        var (m, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            pt.Map(Upper, FrameB, P | RW);
            pt.Map(Upper + 0x1000, FrameC, 0);
            uint pte = pt.PteAddress(Upper + 0x1000);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(ebx, __dword_ptr[Upper]);
                a.mov(__dword_ptr[pte], FrameC | (uint)(P | RW)); // not present to present: no INVLPG needed
                a.mov(ecx, __dword_ptr[Upper + 0x1000]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx, m.Cpu.Ecx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u, 0xCCCC0003u)));
            Assert.That(m.Shadow!.Stats.PageTableWrites, Is.EqualTo(1), "the store to the table was a hidden fault");
            Assert.That(m.Shadow.IsGuestTable(pt.PteAddress(Target) >> 12) && m.Shadow.IsGuestTable(pte >> 12), "both half tables are tracked");
            Assert.That(m.Shadow.MappingsOf(FrameA >> 12), Has.Count.EqualTo(1), "the lower half's entry stayed");
        }
    }

    [Test]
    public void RemapThroughAPaeTable_WithInvlpg_ReadsTheNewFrame()
    {
        var (m, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pte], FrameB | (uint)(P | RW));
                a.invlpg(__byte_ptr[Target]);
                a.mov(ebx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u)));
            Assert.That(m.Shadow!.MappingsOf(FrameA >> 12), Is.Empty);
        }
    }

    [Test]
    public void ChangingAPaeDirectoryEntry_ThenReloadingCr3_UsesTheNewTable()
    {
        var (m, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint pde = pt.PdeAddress(Target);
            uint other = pt.NewTable();
            m.Memory.Write64(other, FrameB | P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[pde], other | (uint)(P | RW | US));
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);
                a.mov(ebx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u)));
            Assert.That(m.Shadow!.IsGuestTable(other >> 12), "the new table is tracked now");
            Assert.That(m.Shadow.IsGuestTable(pde >> 12), "page directories are protected");
        }
    }

    [Test]
    public void PdptStores_AreNoHiddenFaults_TheNextLoadComparesThePdptes()
    {
        var (m, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            uint directory2 = pt.NewTable(), table2 = pt.NewTable();
            m.Memory.Write64(directory2 + (((Target >> 21) & 511) * 8), table2 | P | RW | US);
            m.Memory.Write64(table2 + (((Target >> 12) & 511) * 8), FrameB | P | RW);
            var stop = Run(m, pt, a =>
            {
                a.mov(eax, __dword_ptr[Target]);
                a.mov(__dword_ptr[PaeTables.Pdpt + 8], directory2 | 1);
                a.mov(ecx, cr3);
                a.mov(cr3, ecx);
                a.mov(ebx, __dword_ptr[Target]);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That((m.Cpu.Eax, m.Cpu.Ebx), Is.EqualTo((0xAAAA0001u, 0xBBBB0002u)));
            Assert.That(m.Shadow!.Stats.PageTableWrites, Is.Zero);
            Assert.That(m.Shadow.IsGuestTable(directory2 >> 12), "the new directory is protected");
        }
    }

    [Test]
    public void TwoPdptsInOnePage_AreTwoAddressSpaces_EachKeptAcrossSwitches()
    {
        var (m, pt) = Machine();
        using (m)
        {
            pt.Map(Target, FrameA, P | RW);
            const uint Pdpt2 = PaeTables.Pdpt + 32;
            uint directory2 = pt.NewTable(), table2 = pt.NewTable();
            m.Memory.Write64(directory2 + (((Target >> 21) & 511) * 8), table2 | P | RW | US);
            m.Memory.Write64(table2 + (((Target >> 12) & 511) * 8), FrameB | P | RW);
            for (uint q = 0; q < 4; q++)
                m.Memory.Write64(Pdpt2 + (q * 8), m.Memory.Read64(PaeTables.Pdpt + (q * 8)));
            m.Memory.Write64(Pdpt2 + 8, directory2 | P);
            var stop = Run(m, pt, a =>
            {
                var loop = a.CreateLabel();
                a.xor(esi, esi);
                a.mov(ecx, 50);
                a.Label(ref loop);
                a.mov(edx, Pdpt2);
                a.mov(cr3, edx);
                a.add(esi, __dword_ptr[Target]);
                a.mov(edx, PaeTables.Pdpt);
                a.mov(cr3, edx);
                a.add(esi, __dword_ptr[Target]);
                a.loop(loop);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(50u * (0xAAAA0001u + 0xBBBB0002u))));
            Assert.That(m.Shadow!.Stats.ShadowsCreated, Is.EqualTo(2));
            Assert.That(m.Shadow.Stats.ShadowFills, Is.LessThan(20), "entries were built once, not at every switch");
        }
    }

    [Test]
    public void TurningPaeOn_DropsTheTwoLevelShadows()
    {
        var m = new TestMachine(PagingMode.Shadow);
        using (m)
        {
            _ = new SystemTables(m);
            var two = new PageTables(m);
            two.Enable();
            m.Cpu.ReadLinear(0x1000, 4);
            Assert.That(m.Shadow!.SpaceCount, Is.EqualTo(1));
            m.Cpu.Cr0 &= ~MiniHv.Cpu.Cpu.CR0_PG;
            var pae = new PaeTables(m);
            pae.Enable(nxe: false, wp: true);
            m.Cpu.ReadLinear(0x1000, 4);
            Assert.That(m.Shadow.CachedDirectories, Is.EqualTo(new[] { PaeTables.Pdpt >> 12 }));
        }
    }
}

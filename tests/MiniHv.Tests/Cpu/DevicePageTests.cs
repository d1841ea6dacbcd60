using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Cpu.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// Accesses to pages that are not RAM (device windows such as the local APIC's): each reaches the physical
/// memory's unbacked handlers at the right address, a repeated one does not walk the page tables again, every
/// flush forgets it, and a store ends the block so an interrupt it raises is taken at once.
/// </summary>
[TestFixture(PagingMode.Walk)]
[TestFixture(PagingMode.Shadow)]
public class DevicePageTests
{
    private const uint Device = 0xFEE0_0000;
    private const uint Window = 0x400000;

    private readonly PagingMode _paging;

    public DevicePageTests(PagingMode paging) => _paging = paging;

    private (TestMachine M, PageTables Pt, CountingMmu Mmu) Machine()
    {
        var m = new TestMachine(_paging);
        var pt = new PageTables(m);
        pt.Map(Window, Device, PageTables.P | PageTables.RW);
        pt.Map(Window + 0x1000, Device + 0x1000, PageTables.P | PageTables.RW);
        var mmu = new CountingMmu(m.Cpu.Mmu);
        m.Cpu.Mmu = mmu;
        return (m, pt, mmu);
    }

    [Test]
    public void RepeatedReads_OfADevicePage_ReachTheDevice_ButWalkOnlyOnce()
    {
        var (m, pt, mmu) = Machine();
        using (m)
        {
            m.Load(a =>
            {
                a.mov(ecx, 100);
                var top = a.CreateLabel();
                a.Label(ref top);
                a.mov(eax, __dword_ptr[Window + 0x20]);
                a.dec(ecx);
                a.jnz(top);
                a.hlt();
            });
            pt.Enable();
            Assert.That(m.Cpu.Run(1000), Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.UnbackedReadLog, Has.Count.EqualTo(100));
            Assert.That(m.Memory.UnbackedReadLog.Distinct(), Is.EqualTo(new[] { (Device + 0x20, 4) }));
            Assert.That(mmu.TranslationsOf(Window), Is.EqualTo(1));
        }
    }

    [Test]
    public void Writes_ReachTheDeviceAtTheirAddress_AndWalkOnceForTheFirstWrite()
    {
        var (m, pt, mmu) = Machine();
        using (m)
        {
            m.Load(a =>
            {
                a.mov(__dword_ptr[Window + 0xB0], 0);
                a.mov(__word_ptr[Window + 0x1002], 0x1234);
                a.mov(__dword_ptr[Window + 0xB0], 7);
                a.hlt();
            });
            pt.Enable();
            Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.UnbackedWriteLog, Is.EqualTo(new[]
            {
                (Device + 0xB0, 4, 0u), (Device + 0x1002, 2, 0x1234u), (Device + 0xB0, 4, 7u),
            }));
            Assert.That(mmu.TranslationsOf(Window), Is.EqualTo(1));
        }
    }

    [Test]
    public void Invlpg_AndCr3Reload_ForgetTheDevicePage()
    {
        var (m, pt, _) = Machine();
        using (m)
        {
            m.Load(a =>
            {
                a.mov(eax, __dword_ptr[Window]);
                a.mov(__dword_ptr[pt.PteAddress(Window)], (Device + 0x1000) | PageTables.P | PageTables.RW);
                a.invlpg(__[Window]);
                a.mov(eax, __dword_ptr[Window]);
                a.mov(__dword_ptr[pt.PteAddress(Window)], 0x00500000 | PageTables.P | PageTables.RW);
                a.mov(ebx, cr3);
                a.mov(cr3, ebx);
                a.mov(eax, __dword_ptr[Window]);
                a.hlt();
            });
            m.Memory.Write32(0x500000, 0x5150);
            pt.Enable();
            Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));
            Assert.That(m.Memory.UnbackedReadLog, Is.EqualTo(new[] { (Device, 4), (Device + 0x1000, 4) }));
            Assert.That(m.Cpu.Eax, Is.EqualTo(0x5150u), "after the CR3 load the page is RAM again");
        }
    }

    [Test]
    public void UserAccess_ToASupervisorDevicePage_FaultsEvenAfterTheKernelReadIt()
    {
        var (m, pt, _) = Machine();
        using (m)
        {
            var t = new SystemTables(m);
            m.Load(a =>
            {
                a.mov(eax, __dword_ptr[Window]);     // the kernel may
                a.hlt();
            });
            pt.Enable();
            Assert.That(m.Cpu.Run(100), Is.EqualTo(StopReason.Halted));

            m.Assemble(0x150000, a =>
            {
                a.mov(eax, __dword_ptr[Window]);     // ring 3 may not: the PTE has no U/S
                a.hlt();
            });
            pt.Map(0x150000, 0x150000, PageTables.P | PageTables.RW | PageTables.US);
            m.Cpu.FlushTlb();
            t.EnterUserMode(0x150000, 0x160000);
            m.Cpu.Wake();
            t.AssertHaltedIn(Vectors.PF, m.Cpu.Run(100));
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Window));
        }
    }

    [Test]
    public void StoreToADevice_EndsTheBlock_SoTheInterruptItRaises_IsTakenBeforeTheNextInstruction()
    {
        var (m, pt, _) = Machine();
        using (m)
        {
            var t = new SystemTables(m);
            var pic = new FakeInterruptController();
            m.Cpu.InterruptController = pic;
            m.Memory.OnUnbackedWrite = (_, _) => pic.Pending.Enqueue(0x40);
            m.Load(a =>
            {
                a.sti();
                a.nop();
                a.mov(__dword_ptr[Window + 0x300], 1);
                a.mov(eax, 5);
                a.hlt();
            });
            pt.Enable();
            m.Cpu.Eflags |= IF;
            t.AssertHaltedIn(0x40, m.Cpu.Run(100));
            Assert.That(m.Cpu.Eax, Is.Not.EqualTo(5u));
            Assert.That(t.Stack(0), Is.EqualTo(TestMachine.CodeBase + 2 + 10), "the interrupt came right after the store");
        }
    }

    /// <summary>An MMU that counts its translations by linear page, passing them to the real one.</summary>
    private sealed class CountingMmu : IMmu
    {
        private readonly IMmu _inner;
        private readonly Dictionary<uint, int> _counts = new();

        public CountingMmu(IMmu inner) => _inner = inner;

        public int TranslationsOf(uint linear) => _counts.GetValueOrDefault(linear & 0xFFFFF000);

        public bool Translate(uint linear, AccessKind access, out Translation translation, out int pageFaultError)
        {
            _counts[linear & 0xFFFFF000] = TranslationsOf(linear) + 1;
            return _inner.Translate(linear, access, out translation, out pageFaultError);
        }

        public void WriteCompleted(uint linear, uint physical, int size) => _inner.WriteCompleted(linear, physical, size);

        public void PagingChanged(PagingChange change) => _inner.PagingChanged(change);

        public void InvalidatePage(uint linear) => _inner.InvalidatePage(linear);
    }
}

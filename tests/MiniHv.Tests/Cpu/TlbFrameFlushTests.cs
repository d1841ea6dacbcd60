using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// A guest frame given another machine frame (a merge, a break) drops the TLB entries that held the old one,
/// whether the set filled few entries since it was emptied (the flush looks at its fill log) or more than the
/// log holds (the flush looks at the whole set).
/// </summary>
public class TlbFrameFlushTests
{
    private const uint Data = 0x200000;

    [TestCase(4, TestName = "AFrameMergedAfterAFewFills_ReadsTheMergedFrame_AndBreaksAwayOnAStore")]
    [TestCase(400, TestName = "AFrameMergedAfterMoreFillsThanTheLogHolds_ReadsTheMergedFrame_AndBreaksAwayOnAStore")]
    public void MergedFrame(int pages)
    {
        using var m = new TestMachine(PagingMode.Shadow);
        GuestPhysicalMemory guest = m.Memory.Guest!;
        for (int i = 0; i < pages; i++)
            guest.WriteUInt32(Data + (uint)(i * 4096), 0x1000u + (uint)i);

        // Read and write every page, so that each has a read and a write entry; the first page is filled first.
        Assert.That(m.Run(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ebx, Data);
            a.mov(ecx, pages);
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[ebx]);
            a.mov(__dword_ptr[ebx + 4], eax);
            a.add(ebx, 0x1000);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }), Is.EqualTo(StopReason.Halted));

        // Another guest's frame takes the place of the first page, read-only, as the sharing engine merges.
        using var other = new GuestPhysicalMemory(guest.Machine, 1 << 20);
        other.WriteUInt32(0, 0xCAFEF00D);
        Mfn shared = other.P2m.GetMfn(0);
        guest.Machine.AddRef(shared);
        guest.P2m.Remap(Data >> 12, shared, writable: false);

        m.Cpu.Wake();
        Assert.That(m.Run(a =>
        {
            a.mov(eax, __dword_ptr[Data]);
            a.mov(__dword_ptr[Data + 8], 0x55);
            a.hlt();
        }), Is.EqualTo(StopReason.Halted));

        Assert.Multiple(() =>
        {
            Assert.That(m.Cpu.Eax, Is.EqualTo(0xCAFEF00Du), "the load reads the merged frame");
            Assert.That(guest.CopyOnWriteBreaks, Is.EqualTo(1), "the store breaks the merge");
            Assert.That(guest.ReadUInt32(Data + 8), Is.EqualTo(0x55u));
            Assert.That(other.ReadUInt32(8), Is.Zero, "the other guest's frame is untouched");
        });
    }
}

using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;

namespace MiniHv.Tests.Overcommit;

/// <summary>The clock over one guest's frames: second chances, what is passed over, swap-in, zero frames and a full disk.</summary>
public class ClockReclaimerTests
{
    private const int Page = MachineMemory.FrameSize;

    /// <summary>Accessed bits a test sets by hand, harvested as the shadow MMU's are: read and cleared.</summary>
    private sealed class HandSetBits : IAccessedBits
    {
        public HashSet<uint> Used { get; } = new();

        public bool HarvestAccessed(uint gfn) => Used.Remove(gfn);
    }

    private static byte[] Pattern(uint gfn)
    {
        var bytes = new byte[Page];
        new Random((int)gfn + 1).NextBytes(bytes);
        return bytes;
    }

    private static (MachineMemory Pool, GuestPhysicalMemory Guest, SwapSpace Swap, MemorySwapDevice Device) Guest(uint frames, uint written)
    {
        var pool = new MachineMemory(256);
        var guest = new GuestPhysicalMemory(pool, frames * (long)Page);
        var device = new MemorySwapDevice();
        var swap = new SwapSpace(device, 64);
        guest.Swap = swap;
        for (uint gfn = 0; gfn < written; gfn++)
            guest.Write(gfn * (uint)Page, Pattern(gfn));
        return (pool, guest, swap, device);
    }

    [Test]
    public void TheHand_PassesOverFramesUsedSinceItsLastVisit_AndTakesTheOthersInOrder()
    {
        var (pool, guest, swap, _) = Guest(16, 8);
        using (pool)
        using (guest)
        using (swap)
        {
            var bits = new HandSetBits();
            bits.Used.UnionWith([1u, 3u]);
            var clock = new ClockReclaimer(guest, bits);

            Assert.That(clock.Reclaim(2, swap), Is.EqualTo(2));
            Assert.Multiple(() =>
            {
                Assert.That(guest.P2m.IsSwapped(0), Is.True, "gfn 0: not used, taken");
                Assert.That(guest.P2m.IsSwapped(1), Is.False, "gfn 1: used, second chance");
                Assert.That(guest.P2m.IsSwapped(2), Is.True, "gfn 2: not used, taken");
                Assert.That(clock.Hand, Is.EqualTo(3u));
                Assert.That(clock.SecondChances, Is.EqualTo(1));
                Assert.That(pool.FramesInUse, Is.EqualTo(6), "two of eight frames went back to the pool");
                Assert.That(swap.SwapWrites, Is.EqualTo(2));
            });

            // gfn 3 was used too and gets its second chance; gfn 1 lost its bit at the hand's last visit, so it goes when the hand comes round.
            Assert.That(clock.Reclaim(4, swap), Is.EqualTo(4));
            Assert.That(Enumerable.Range(0, 8).Where(g => guest.P2m.IsSwapped((uint)g)), Is.EqualTo(new[] { 0, 2, 4, 5, 6, 7 }));
            Assert.That(clock.Reclaim(1, swap), Is.EqualTo(1));
            Assert.That(Enumerable.Range(0, 8).Where(g => guest.P2m.IsSwapped((uint)g)), Is.EqualTo(new[] { 0, 1, 2, 4, 5, 6, 7 }));
        }
    }

    [Test]
    public void ASwappedFrame_ReadsBackItsContents_OnceFromTheFile_AndIsPrivateAgain()
    {
        var (pool, guest, swap, _) = Guest(8, 4);
        using (pool)
        using (guest)
        using (swap)
        {
            var swappedIn = new List<uint>();
            guest.FrameSwappedIn += swappedIn.Add;
            Assert.That(new ClockReclaimer(guest, null).Reclaim(4, swap), Is.EqualTo(4));
            Assert.That(pool.FramesInUse, Is.Zero);

            var back = new byte[Page];
            guest.Read(2 * Page, back);
            guest.Read(2 * Page, back);
            Assert.Multiple(() =>
            {
                Assert.That(back, Is.EqualTo(Pattern(2)));
                Assert.That(swappedIn, Is.EqualTo(new[] { 2u }), "one hidden fault, for the first access only");
                Assert.That(guest.P2m.IsWritable(2), Is.True, "private again");
                Assert.That(swap.SwapReads, Is.EqualTo(1));
                Assert.That(swap.SlotsInUse, Is.EqualTo(3), "its slot is free again");
                Assert.That(guest.SwappedFrames, Is.EqualTo(3));
            });

            // A write to a swapped frame reads it back first: the bytes around the write are the old ones.
            guest.WriteByte(3 * Page + 10, 0xEE);
            byte[] expected = Pattern(3);
            expected[10] = 0xEE;
            guest.Read(3 * Page, back);
            Assert.That(back, Is.EqualTo(expected));
        }
    }

    [Test]
    public void AnAllZeroFrame_GoesToTheZeroFrame_WithoutAWrite_AndReadsBackZeros()
    {
        var (pool, guest, swap, device) = Guest(8, 0);
        using (pool)
        using (guest)
        using (swap)
        {
            guest.Write(5 * Page, new byte[Page]); // written, so private, but all zero
            guest.Write(6 * Page, Pattern(6));
            Assert.That(guest.PrivateFrames, Is.EqualTo(2));

            Assert.That(new ClockReclaimer(guest, null).Reclaim(2, swap), Is.EqualTo(2));
            var back = new byte[Page];
            guest.Read(5 * Page, back);
            Assert.Multiple(() =>
            {
                Assert.That(guest.P2m.IsZeroMapped(5), Is.True, "on the zero frame");
                Assert.That(back, Is.All.EqualTo((byte)0));
                Assert.That(device.Writes, Is.EqualTo(1), "only the frame with contents was written");
                Assert.That(swap.ZeroReclaimed, Is.EqualTo(1));
                Assert.That(swap.SwappedOut, Is.EqualTo(2));
                Assert.That(pool.FramesInUse, Is.Zero);
            });
        }
    }

    [Test]
    public void ASharedFrame_IsWrittenOnceForAllItsSharers_FreedWithTheLast_AndReadBackOnceForAll()
    {
        using var pool = new MachineMemory(64);
        using var device = new MemorySwapDevice();
        using var swap = new SwapSpace(device, 16);
        using var a = new GuestPhysicalMemory(pool, 8 * Page) { Swap = swap };
        using var b = new GuestPhysicalMemory(pool, 8 * Page) { Swap = swap };
        a.Write(3 * Page, Pattern(3));
        Mfn shared = a.P2m.GetMfn(3);
        pool.AddRef(shared);
        a.P2m.Remap(3, shared, writable: false); // read-only in both guests, as the sharing engine maps a stable frame
        pool.AddRef(shared);
        b.P2m.Remap(5, shared, writable: false);
        Assert.That(pool.FramesInUse, Is.EqualTo(1));

        Assert.That(new ClockReclaimer(a, null).Reclaim(8, swap), Is.Zero, "b still holds the frame: nothing back to the pool yet");
        Assert.That(pool.FramesInUse, Is.EqualTo(1));
        Assert.That(new ClockReclaimer(b, null).Reclaim(8, swap), Is.EqualTo(1), "the last sharer out frees it");
        Assert.Multiple(() =>
        {
            Assert.That(a.P2m.IsSwapped(3) && b.P2m.IsSwapped(5), Is.True);
            Assert.That(a.P2m.SwapSlot(3), Is.EqualTo(b.P2m.SwapSlot(5)), "one slot");
            Assert.That(device.Writes, Is.EqualTo(1), "written once for both");
            Assert.That(swap.SharedSwapOuts, Is.EqualTo(1));
            Assert.That(pool.FramesInUse, Is.Zero);
        });

        var back = new byte[Page];
        b.Read(5 * Page, back);
        Assert.That(back, Is.EqualTo(Pattern(3)));
        a.Read(3 * Page, back);
        Assert.Multiple(() =>
        {
            Assert.That(back, Is.EqualTo(Pattern(3)));
            Assert.That(swap.SwapReads, Is.EqualTo(1), "read once for both");
            Assert.That(swap.ResidentSwapIns, Is.EqualTo(1), "the second found the first's frame");
            Assert.That(a.P2m.GetMfn(3), Is.EqualTo(b.P2m.GetMfn(5)), "shared again");
            Assert.That(a.P2m.IsWritable(3), Is.False, "read-only, so a write breaks it");
            Assert.That(pool.FramesInUse, Is.EqualTo(1));
            Assert.That(swap.SlotsInUse, Is.Zero);
        });

        a.WriteByte(3 * Page, 0x77);
        b.Read(5 * Page, back);
        Assert.That(back, Is.EqualTo(Pattern(3)), "b's copy is untouched by a's write");
    }

    [Test]
    public void ASharerBackBeforeTheOthersLeave_MapsTheFrameAgain_WithoutARead()
    {
        using var pool = new MachineMemory(64);
        using var device = new MemorySwapDevice();
        using var swap = new SwapSpace(device, 16);
        using var a = new GuestPhysicalMemory(pool, 8 * Page) { Swap = swap };
        using var b = new GuestPhysicalMemory(pool, 8 * Page) { Swap = swap };
        a.Write(0, Pattern(0));
        Mfn shared = a.P2m.GetMfn(0);
        pool.AddRef(shared);
        a.P2m.Remap(0, shared, writable: false);
        pool.AddRef(shared);
        b.P2m.Remap(0, shared, writable: false);

        new ClockReclaimer(a, null).Reclaim(1, swap);
        Assert.That(a.P2m.IsSwapped(0), Is.True);
        var back = new byte[Page];
        a.Read(0, back);
        Assert.Multiple(() =>
        {
            Assert.That(back, Is.EqualTo(Pattern(0)));
            Assert.That(a.P2m.GetMfn(0), Is.EqualTo(shared), "b's frame, mapped again");
            Assert.That(swap.SwapReads, Is.Zero);
            Assert.That(swap.SlotsInUse, Is.Zero, "the slot went with its only holder");
        });
    }

    [Test]
    public void TheZeroFrame_IsNeverTaken()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 8 * Page);
        using var device = new MemorySwapDevice();
        using var swap = new SwapSpace(device, 16);
        guest.Swap = swap;
        guest.Write(0, Pattern(0));

        Assert.That(new ClockReclaimer(guest, null).Reclaim(8, swap), Is.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(guest.P2m.IsSwapped(0), Is.True);
            Assert.That(Enumerable.Range(1, 7).All(g => guest.P2m.IsZeroMapped((uint)g)), Is.True, "untouched frames stay on the zero frame");
            Assert.That(device.Writes, Is.EqualTo(1));
        });
    }

    [Test]
    public void AFullDisk_FailsTheReclaim_AndTheFrameStaysWhereItWas()
    {
        var (pool, guest, swap, device) = Guest(8, 4);
        using (pool)
        using (guest)
        using (swap)
        {
            device.WritesBeforeFull = 1;
            var clock = new ClockReclaimer(guest, null);
            IOException? e = Assert.Throws<IOException>(() => clock.Reclaim(4, swap));
            var back = new byte[Page];
            guest.Read(Page, back);
            Assert.Multiple(() =>
            {
                Assert.That(e!.Message, Does.Contain("No space left"));
                Assert.That(guest.P2m.IsSwapped(0), Is.True, "the first write went through");
                Assert.That(guest.P2m.IsWritable(1), Is.True, "the second frame is still on its machine frame");
                Assert.That(back, Is.EqualTo(Pattern(1)));
                Assert.That(swap.SlotsInUse, Is.EqualTo(1), "the failed write took no slot");
            });
        }
    }
}

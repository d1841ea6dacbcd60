using MiniHv.Hv.Devices;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;

namespace MiniHv.Tests.Overcommit;

/// <summary>The balloon device's registers as a guest driver uses them, and what inflating and deflating do to the guest's frames.</summary>
public class BalloonDeviceTests
{
    private const int Page = MachineMemory.FrameSize;

    private static (MachineMemory Pool, GuestPhysicalMemory Guest, IoBus Bus, BalloonDevice Balloon) Guest(uint frames)
    {
        var pool = new MachineMemory(256);
        var guest = new GuestPhysicalMemory(pool, frames * (long)Page);
        var bus = new IoBus();
        var balloon = new BalloonDevice(guest);
        balloon.Attach(bus);
        return (pool, guest, bus, balloon);
    }

    private static byte[] Filled(byte value)
    {
        var bytes = new byte[Page];
        bytes.AsSpan().Fill(value);
        return bytes;
    }

    [Test]
    public void TheRegisters_ReadTheSignatureTheHostsTargetAndTheSize()
    {
        var (pool, guest, bus, balloon) = Guest(16);
        using (pool)
        using (guest)
        {
            balloon.Target = 5;
            bus.Out(BalloonDevice.InflatePort, 4, 3);

            Assert.Multiple(() =>
            {
                Assert.That(bus.In(BalloonDevice.SignaturePort, 4), Is.EqualTo(0x4E4C_4142u), "\"BALN\"");
                Assert.That(bus.In(BalloonDevice.TargetPort, 4), Is.EqualTo(5u));
                Assert.That(bus.In(BalloonDevice.SizePort, 4), Is.EqualTo(1u));
                Assert.That(bus.In(BalloonDevice.SignaturePort, 1), Is.EqualTo(0xFFu), "only whole registers");
            });
        }
    }

    [Test]
    public void ATarget_IsNeverMoreThanTheGuestsRam()
    {
        var (pool, guest, _, balloon) = Guest(16);
        using (pool)
        using (guest)
        {
            balloon.Target = 1000;
            Assert.That(balloon.Target, Is.EqualTo(16));
        }
    }

    [Test]
    public void InflateThenDeflate_GivesTheFrameToThePool_AndBackLazily_WithTheOtherFramesUntouched()
    {
        var (pool, guest, bus, balloon) = Guest(16);
        using (pool)
        using (guest)
        {
            guest.Write(2 * Page, Filled(0x22));
            guest.Write(3 * Page, Filled(0x33));
            Assert.That(pool.FramesInUse, Is.EqualTo(2));

            bus.Out(BalloonDevice.InflatePort, 4, 3);
            Assert.Multiple(() =>
            {
                Assert.That(pool.FramesInUse, Is.EqualTo(1), "gfn 3's frame went back to the pool");
                Assert.That(guest.P2m.IsBallooned(3), Is.True);
                Assert.That(balloon.Size, Is.EqualTo(1));
                Assert.That(balloon.FramesReturned, Is.EqualTo(1));
            });

            bus.Out(BalloonDevice.DeflatePort, 4, 3);
            Assert.Multiple(() =>
            {
                Assert.That(balloon.Size, Is.Zero);
                Assert.That(guest.P2m.IsZeroMapped(3), Is.True, "back on the zero frame");
                Assert.That(pool.FramesInUse, Is.EqualTo(1), "deflating costs no frame until the guest writes");
                Assert.That(guest.ReadUInt32(3 * Page), Is.Zero);
                Assert.That(guest.ReadUInt32(2 * Page), Is.EqualTo(0x2222_2222u), "the other frame kept its contents");
                Assert.That(guest.BalloonTouches, Is.Zero);
            });

            guest.Write(3 * Page, Filled(0x44));
            Assert.That(pool.FramesInUse, Is.EqualTo(2), "the write took a frame again");
            Assert.That(guest.ReadUInt32(3 * Page), Is.EqualTo(0x4444_4444u));
        }
    }

    [Test]
    public void TouchingAFrameInTheBalloon_ReadsZeros_AndIsCounted()
    {
        var (pool, guest, bus, balloon) = Guest(16);
        using (pool)
        using (guest)
        {
            uint? touched = null;
            guest.BalloonedFrameTouched += gfn => touched = gfn;
            guest.Write(4 * Page, Filled(0x55));
            bus.Out(BalloonDevice.InflatePort, 4, 4);

            Assert.Multiple(() =>
            {
                Assert.That(guest.ReadUInt32(4 * Page + 8), Is.Zero, "the guest broke its promise: zeros");
                Assert.That(touched, Is.EqualTo(4u), "the fault log hears of it");
                Assert.That(guest.BalloonTouches, Is.EqualTo(1));
                Assert.That(balloon.Holds(4), Is.True, "still in the balloon until the driver deflates it");
            });
        }
    }

    [Test]
    public void BadFrameNumbers_AreRefusedAndChangeNothing()
    {
        var (pool, guest, bus, balloon) = Guest(16);
        using (pool)
        using (guest)
        {
            guest.Write(1 * Page, Filled(0x11));
            bus.Out(BalloonDevice.InflatePort, 4, 16);      // beyond RAM
            bus.Out(BalloonDevice.DeflatePort, 4, 1);       // not in the balloon
            bus.Out(BalloonDevice.InflatePort, 4, 5);
            bus.Out(BalloonDevice.InflatePort, 4, 5);       // twice

            Assert.Multiple(() =>
            {
                Assert.That(balloon.Refused, Is.EqualTo(3));
                Assert.That(balloon.Size, Is.EqualTo(1));
                Assert.That(guest.ReadUInt32(1 * Page), Is.EqualTo(0x1111_1111u));
            });
        }
    }

    [Test]
    public void AFrameInSwap_GoesIntoTheBalloonWithItsSlotFreed()
    {
        var pool = new MachineMemory(256);
        var guest = new GuestPhysicalMemory(pool, 16L * Page);
        var swap = new SwapSpace(new MemorySwapDevice(), 16);
        using (pool)
        using (guest)
        using (swap)
        {
            guest.Swap = swap;
            var bus = new IoBus();
            var balloon = new BalloonDevice(guest);
            balloon.Attach(bus);
            guest.Write(6 * Page, Filled(0x66));
            Assert.That(new ClockReclaimer(guest, null).Reclaim(1, swap), Is.EqualTo(1));
            Assert.That(swap.SlotsInUse, Is.EqualTo(1));

            bus.Out(BalloonDevice.InflatePort, 4, 6);

            Assert.Multiple(() =>
            {
                Assert.That(swap.SlotsInUse, Is.Zero, "nothing left to read back");
                Assert.That(guest.P2m.IsBallooned(6), Is.True);
                Assert.That(guest.SwappedFrames, Is.Zero);
                Assert.That(balloon.FramesReturned, Is.Zero, "its frame had gone to swap already");
            });
        }
    }
}

using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Memory;

public unsafe class GuestPhysicalMemoryTests
{
    private const long MiB = 1 << 20;
    private const int Page = MachineMemory.FrameSize;

    [Test]
    public void LargeGuestThatTouchesLittle_HoldsLittleMachineMemory()
    {
        using var pool = MachineMemory.WithCapBytes(1024 * MiB);
        using var guest = new GuestPhysicalMemory(pool, 256 * MiB);

        byte[] pattern = new byte[3 * MiB];
        new Random(1).NextBytes(pattern);
        guest.Write(0x100000, pattern);

        const long touched = 3 * MiB / Page;
        Assert.Multiple(() =>
        {
            Assert.That(pool.FramesInUse, Is.EqualTo(touched), "machine frames held");
            Assert.That(guest.PrivateFrames, Is.EqualTo(touched));
            Assert.That(guest.ZeroMappedFrames, Is.EqualTo(256 * MiB / Page - touched));
            Assert.That(pool.HostBytesAllocated, Is.LessThan(8 * MiB), "host memory committed by the pool");
        });
        byte[] back = new byte[pattern.Length];
        guest.Read(0x100000, back);
        Assert.That(back, Is.EqualTo(pattern));
    }

    [Test]
    public void WriteToAZeroMappedFrame_NeverChangesWhatOtherUntouchedFramesRead()
    {
        using var pool = new MachineMemory(1024);
        using var guest = new GuestPhysicalMemory(pool, 4 * MiB);
        using var other = new GuestPhysicalMemory(pool, 4 * MiB);

        byte* zeroBefore = guest.FrameForRead(7);
        byte* frame = guest.FrameForWrite(7);
        new Span<byte>(frame, Page).Fill(0xA5);
        guest.WriteUInt32(0x3000, 0xDEADBEEF);

        Assert.Multiple(() =>
        {
            Assert.That((nint)frame, Is.Not.EqualTo((nint)zeroBefore), "the write got a frame of its own");
            Assert.That(pool.IsZeroFrameIntact(), Is.True, "the zero frame is still all zeros");
            Assert.That(guest.ReadUInt32(7 * Page), Is.EqualTo(0xA5A5A5A5));
            Assert.That(guest.ReadUInt32(0x3000), Is.EqualTo(0xDEADBEEF));
        });
        byte[] buffer = new byte[Page];
        for (uint gfn = 0; gfn < guest.FrameCount; gfn++)
        {
            if (gfn is 7 or 3)
                continue;
            guest.Read(gfn * Page, buffer);
            Assert.That(buffer.All(b => b == 0), Is.True, $"untouched gfn {gfn} of the writing guest reads zeros");
        }
        for (uint gfn = 0; gfn < other.FrameCount; gfn++)
        {
            other.Read(gfn * Page, buffer);
            Assert.That(buffer.All(b => b == 0), Is.True, $"gfn {gfn} of the other guest reads zeros");
        }
    }

    [Test]
    public void ZeroFrameBreak_RaisesBackingChangedOnceForThatGfn()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB);
        var changed = new List<uint>();
        guest.BackingChanged += changed.Add;

        guest.WriteByte(0x5123, 1);
        guest.WriteByte(0x5456, 2);
        guest.ReadByte(0x6000);

        Assert.Multiple(() =>
        {
            Assert.That(changed, Is.EqualTo(new uint[] { 5 }));
            Assert.That(guest.ZeroFrameBreaks, Is.EqualTo(1));
            Assert.That(guest.CopyOnWriteBreaks, Is.Zero);
        });
    }

    [Test]
    public void WriteToAReadOnlySharedFrame_CopiesItForThatGuestOnly()
    {
        using var pool = new MachineMemory(64);
        using var a = new GuestPhysicalMemory(pool, 1 * MiB);
        using var b = new GuestPhysicalMemory(pool, 1 * MiB);
        a.WriteUInt32(0x2000, 0x11223344);

        // Share a's frame read-only with b's gfn 9, as the sharing engine will.
        Mfn shared = a.P2m.GetMfn(2);
        pool.AddRef(shared);
        a.P2m.Remap(2, shared, writable: false);   // hands over the extra reference, drops a's old one
        pool.AddRef(shared);
        b.P2m.Remap(9, shared, writable: false);
        Assert.That(pool.RefCount(shared), Is.EqualTo(2));

        var changed = new List<uint>();
        b.BackingChanged += changed.Add;
        b.WriteByte(9 * Page + 1, 0x99);

        Assert.Multiple(() =>
        {
            Assert.That(b.ReadUInt32(9 * Page), Is.EqualTo(0x11229944), "b sees its write on top of the copied contents");
            Assert.That(a.ReadUInt32(0x2000), Is.EqualTo(0x11223344), "a still sees the shared frame unchanged");
            Assert.That(pool.RefCount(shared), Is.EqualTo(1));
            Assert.That(b.P2m.GetMfn(9), Is.Not.EqualTo(shared));
            Assert.That(b.CopyOnWriteBreaks, Is.EqualTo(1));
            Assert.That(changed, Is.EqualTo(new uint[] { 9 }));
            Assert.That(a.ReadOnlyFrames, Is.EqualTo(1));
            Assert.That(b.PrivateFrames, Is.EqualTo(1));
            Assert.That(pool.FramesInUse, Is.EqualTo(2));
        });
    }

    [Test]
    public void BeyondRam_ReadsZerosAndIgnoresWrites_AsQemu()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB);
        uint end = (uint)guest.RamBytes;

        guest.WriteUInt32(end - 2, 0x44332211);
        guest.WriteUInt32(end + 0x100, 0x12345678);

        Assert.Multiple(() =>
        {
            Assert.That((nint)guest.FrameForRead(guest.FrameCount), Is.EqualTo((nint)0));
            Assert.That((nint)guest.FrameForWrite(guest.FrameCount), Is.EqualTo((nint)0));
            Assert.That((nint)guest.FrameForRead(0xFFFFF), Is.EqualTo((nint)0));
            Assert.That(guest.ReadUInt32(end + 0x100), Is.EqualTo(0u));
            Assert.That(guest.ReadUInt32(end - 2), Is.EqualTo(0x00002211), "the half in RAM kept, the half beyond reads zeros");
            Assert.That(guest.ReadByte(0xFFFFFFFF), Is.EqualTo(0));
            Assert.That(guest.ReadUnbacked(0xFEE00000, 1), Is.EqualTo(0u));
            Assert.That(guest.ReadUnbacked(0xFEE00000, 2), Is.EqualTo(0u));
            Assert.That(guest.ReadUnbacked(0xFEE00000, 4), Is.EqualTo(0u));
            Assert.That(pool.FramesInUse, Is.EqualTo(1));
        });
    }

    [Test]
    public void ReadAndWrite_CrossFrameBoundaries()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB);
        byte[] data = new byte[3 * Page + 123];
        new Random(2).NextBytes(data);

        guest.Write(0x4FFE, data);
        guest.WriteUInt64(0x10FFC, 0x0102030405060708);
        byte[] back = new byte[data.Length];
        guest.Read(0x4FFE, back);

        Assert.Multiple(() =>
        {
            Assert.That(back, Is.EqualTo(data));
            Assert.That(guest.ReadUInt64(0x10FFC), Is.EqualTo(0x0102030405060708));
            Assert.That(guest.ReadUInt16(0x10FFF), Is.EqualTo(0x0405));
            Assert.That(guest.PrivateFrames, Is.EqualTo(5 + 2));
        });
    }

    [Test]
    public void ZeroFillOfUntouchedRam_AllocatesNothing()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB);
        guest.Fill(0x3000, 0x1000, 0x77);
        guest.Fill(0, guest.RamBytes, 0);

        Assert.Multiple(() =>
        {
            Assert.That(guest.PrivateFrames, Is.EqualTo(1), "only the frame filled with 0x77 was allocated");
            Assert.That(guest.ReadUInt32(0x3800), Is.Zero, "and it was zeroed again");
        });
    }

    [Test]
    public void GuestFrameLimit_ThrowsOutOfMachineMemory()
    {
        using var pool = new MachineMemory(64);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB, privateFrameLimit: 4);
        for (uint gfn = 0; gfn < 4; gfn++)
            guest.WriteByte(gfn * Page, 1);

        var e = Assert.Throws<MachineMemoryExhaustedException>(() => guest.WriteByte(4 * Page, 1));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("out of machine memory").And.Contain("limit of 4 frames"));
            Assert.That(e.LimitFrames, Is.EqualTo(4));
            Assert.That(guest.ReadByte(4 * Page), Is.Zero, "the failed write left the frame untouched");
            Assert.That(pool.FramesInUse, Is.EqualTo(4));
        });
    }

    [Test]
    public void Dispose_ReturnsEveryFrameAndLeavesNothingReadable()
    {
        using var pool = new MachineMemory(256);
        var a = new GuestPhysicalMemory(pool, 1 * MiB);
        var b = new GuestPhysicalMemory(pool, 1 * MiB);
        a.Fill(0, 40 * Page, 0xEE);
        b.Fill(0, 10 * Page, 0xEE);
        Assert.That(pool.FramesInUse, Is.EqualTo(50));

        a.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(pool.FramesInUse, Is.EqualTo(10));
            Assert.That(pool.PeakFramesInUse, Is.EqualTo(50));
            Assert.That(a.FrameCount, Is.Zero);
            Assert.That((nint)a.FrameForRead(0), Is.EqualTo((nint)0), "a disposed guest has no RAM");
        });
        b.Dispose();
        Assert.That(pool.FramesInUse, Is.Zero);
    }

    [Test]
    public void FrameFreedByOneGuest_ReadsZerosInTheNextGuest()
    {
        using var pool = new MachineMemory(8);
        using (var first = new GuestPhysicalMemory(pool, 1 * MiB))
            first.Fill(0, 8 * Page, 0x5A);

        using var second = new GuestPhysicalMemory(pool, 1 * MiB);
        for (uint gfn = 0; gfn < 8; gfn++)
            second.WriteByte(gfn * Page, 1);

        byte[] buffer = new byte[Page];
        for (uint gfn = 0; gfn < 8; gfn++)
        {
            second.Read(gfn * Page + 1, buffer.AsSpan(0, Page - 1));
            Assert.That(buffer.Take(Page - 1).All(x => x == 0), Is.True, $"gfn {gfn} shows nothing of the previous guest");
        }
        Assert.That(pool.FramesInUse, Is.EqualTo(8));
    }

    [Test]
    public void BadRamSizes_AreRefused()
    {
        using var pool = new MachineMemory(8);
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new GuestPhysicalMemory(pool, 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => new GuestPhysicalMemory(pool, 4097));
            Assert.Throws<ArgumentOutOfRangeException>(() => new GuestPhysicalMemory(pool, 4L << 30));
        });
    }
}

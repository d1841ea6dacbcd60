using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Memory;

public unsafe class MachineMemoryTests
{
    private const long MiB = 1 << 20;
    private const int Page = MachineMemory.FrameSize;

    [Test]
    public void ExceedingTheCap_ThrowsOutOfMachineMemory_AndThePoolStaysUsable()
    {
        using var pool = new MachineMemory(16);
        using var guest = new GuestPhysicalMemory(pool, 1 * MiB);
        for (uint gfn = 0; gfn < 16; gfn++)
            guest.WriteByte(gfn * Page, (byte)gfn);

        var e = Assert.Throws<MachineMemoryExhaustedException>(() => guest.WriteByte(16 * Page, 1));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Is.EqualTo("out of machine memory: all 16 frames (64 KiB) of the machine memory pool are in use"));
            Assert.That(e.LimitFrames, Is.EqualTo(16));
            Assert.That(pool.FramesInUse, Is.EqualTo(16));
            Assert.That(guest.ZeroMappedFrames, Is.EqualTo(256 - 16));
        });

        guest.P2m.Remap(3, Mfn.Zero, writable: false);
        guest.WriteByte(16 * Page, 1);
        Assert.That(guest.ReadByte(16 * Page), Is.EqualTo(1), "a returned frame can be had again");
    }

    [Test]
    public void ZeroFrame_IsPinnedAndNeverHandedOut()
    {
        using var pool = new MachineMemory(4);
        var frames = new[] { pool.AllocateZeroed(), pool.AllocateZeroed(), pool.AllocateZeroed(), pool.AllocateZeroed() };
        pool.AddRef(Mfn.Zero);
        pool.Release(Mfn.Zero);
        pool.Release(Mfn.Zero);

        Assert.Multiple(() =>
        {
            Assert.That(frames.Any(f => f.IsZero), Is.False);
            Assert.That(frames.Distinct().Count(), Is.EqualTo(4));
            Assert.That(pool.RefCount(Mfn.Zero), Is.Zero);
            Assert.That(pool.FramesInUse, Is.EqualTo(4));
            Assert.That(pool.IsZeroFrameIntact(), Is.True);
        });
    }

    [Test]
    public void ReferenceCounts_FreeTheFrameWithTheLastReference()
    {
        using var pool = new MachineMemory(4);
        Mfn mfn = pool.AllocateZeroed();
        pool.AddRef(mfn);
        pool.Release(mfn);
        Assert.That(pool.FramesInUse, Is.EqualTo(1));
        pool.Release(mfn);

        Assert.Multiple(() =>
        {
            Assert.That(pool.FramesInUse, Is.Zero);
            Assert.That(pool.RefCount(mfn), Is.Zero);
            Assert.That(pool.FreeListFrames, Is.EqualTo(1));
            Assert.Throws<InvalidOperationException>(() => pool.Release(mfn), "a reference dropped twice is a hypervisor bug");
            Assert.Throws<ArgumentOutOfRangeException>(() => pool.Release(new Mfn(12345)));
        });
    }

    [Test]
    public void AllocateCopy_CopiesTheWholeFrame()
    {
        using var pool = new MachineMemory(4);
        Mfn source = pool.AllocateZeroed();
        new Span<byte>(pool.FrameAddress(source), Page).Fill(0x3C);
        Mfn copy = pool.AllocateCopy(source);

        Assert.That(pool.FrameBytes(copy).ToArray(), Is.EqualTo(pool.FrameBytes(source).ToArray()));
        Assert.That(copy, Is.Not.EqualTo(source));
    }

    [Test]
    public void FrameAddresses_NeverMoveAsThePoolGrows()
    {
        using var pool = new MachineMemory(4096);
        Mfn first = pool.AllocateZeroed();
        nint address = (nint)pool.FrameAddress(first);
        for (int i = 0; i < 3000; i++)
            pool.AllocateZeroed();
        Assert.That((nint)pool.FrameAddress(first), Is.EqualTo(address));
        Assert.That(pool.HostBytesAllocated, Is.EqualTo(6 * 2 * MiB));
    }

    [Test]
    public void PeakAndCounts_StayRight_WhenSeveralGuestsAllocateConcurrently()
    {
        const int threads = 8, framesPerGuest = 2000;
        using var pool = new MachineMemory(threads * framesPerGuest);
        var guests = Enumerable.Range(0, threads).Select(_ => new GuestPhysicalMemory(pool, 16 * MiB)).ToArray();
        using var start = new Barrier(threads);

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var random = new Random(t);
            GuestPhysicalMemory guest = guests[t];
            start.SignalAndWait();
            for (int i = 0; i < framesPerGuest * 2; i++)
            {
                uint gfn = (uint)random.Next(framesPerGuest);
                if (random.Next(4) == 0)
                    guest.P2m.Remap(gfn, Mfn.Zero, writable: false);   // give a frame back
                else
                    guest.WriteUInt32(gfn * Page, (uint)(t << 24) | gfn);
            }
            for (uint gfn = 0; gfn < framesPerGuest; gfn++)
                guest.WriteUInt32(gfn * Page, (uint)(t << 24) | gfn);
        });

        Assert.Multiple(() =>
        {
            Assert.That(pool.FramesInUse, Is.EqualTo(guests.Sum(g => g.PrivateFrames)));
            Assert.That(pool.FramesInUse, Is.EqualTo(threads * framesPerGuest));
            Assert.That(pool.PeakFramesInUse, Is.EqualTo(pool.CapFrames));
            for (int t = 0; t < threads; t++)
            {
                for (uint gfn = 0; gfn < framesPerGuest; gfn++)
                {
                    if (guests[t].ReadUInt32(gfn * Page) != ((uint)(t << 24) | gfn))
                        Assert.Fail($"guest {t} gfn {gfn} holds another guest's bytes");
                }
            }
        });

        Parallel.ForEach(guests, g => g.Dispose());
        Assert.That(pool.FramesInUse, Is.Zero);
        Assert.That(pool.FreeListFrames, Is.EqualTo(threads * framesPerGuest));
    }

    [Test]
    public void P2m_RefusesAWritableZeroFrameAndCountsStates()
    {
        using var pool = new MachineMemory(8);
        using var p2m = new P2m(pool, 16);
        Assert.Throws<InvalidOperationException>(() => p2m.Remap(1, Mfn.Zero, writable: true));

        p2m.Remap(1, pool.AllocateZeroed(), writable: true);
        Mfn shared = pool.AllocateZeroed();
        pool.AddRef(shared);
        p2m.Remap(2, shared, writable: false);
        p2m.Remap(3, shared, writable: false);

        Assert.Multiple(() =>
        {
            Assert.That(p2m.PrivateFrames, Is.EqualTo(1));
            Assert.That(p2m.ReadOnlyFrames, Is.EqualTo(2));
            Assert.That(p2m.ZeroMappedFrames, Is.EqualTo(13));
            Assert.That(p2m.IsWritable(1), Is.True);
            Assert.That(p2m.IsWritable(2), Is.False);
            Assert.That(p2m.IsZeroMapped(4), Is.True);
            Assert.That(pool.FramesInUse, Is.EqualTo(2));
        });

        p2m.Clear();
        Assert.That(pool.FramesInUse, Is.Zero);
        Assert.That(p2m.ZeroMappedFrames, Is.EqualTo(16));
    }

    [Test]
    public void AFrameHandedOutAgain_HasANewGeneration_AndAReferenceToItsOldAllocationCannotBeTaken()
    {
        using var pool = new MachineMemory(4);
        Mfn frame = pool.AllocateZeroed();
        uint first = pool.Generation(frame);
        Assert.That(pool.TryAddRef(frame, first), Is.True, "still that allocation");
        pool.Release(frame);
        pool.Release(frame);

        Assert.That(pool.TryAddRef(frame, first), Is.False, "freed: nothing to take");
        Mfn again = pool.AllocateZeroed();
        Assert.Multiple(() =>
        {
            Assert.That(again, Is.EqualTo(frame), "the free list hands the same frame out again");
            Assert.That(pool.Generation(again), Is.Not.EqualTo(first));
            Assert.That(pool.TryAddRef(again, first), Is.False, "the old allocation is gone");
            Assert.That(pool.RefCount(again), Is.EqualTo(1), "and the new owner's count is untouched");
        });
    }
}

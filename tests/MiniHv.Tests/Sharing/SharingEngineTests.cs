using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>The sharing engine on guest memories written by hand: what merges, what never does, and what a write undoes.</summary>
public class SharingEngineTests
{
    private const int Frames = 64;

    private MachineMemory _machine = null!;

    [SetUp]
    public void SetUp() => _machine = new MachineMemory(16 * Frames);

    [TearDown]
    public void TearDown() => _machine.Dispose();

    private GuestPhysicalMemory Guest() => new(_machine, Frames * 4096L);

    private static SharingEngine Engine(MachineMemory machine, SharingPolicy policy, params (GuestPhysicalMemory Memory, int Salt)[] guests)
    {
        var engine = new SharingEngine(machine, policy);
        int n = 0;
        foreach (var (memory, salt) in guests)
            engine.Add(memory, $"g{n++}", salt, () => true, () => 0);
        return engine;
    }

    private static void Fill(GuestPhysicalMemory m, uint gfn, byte value, int offset = 0)
    {
        var bytes = new byte[4096];
        Array.Fill(bytes, value);
        bytes[offset] ^= 0x5A; // not all one value, so never mistaken for a zero frame by accident
        m.Write(gfn << 12, bytes);
    }

    private static byte[] Read(GuestPhysicalMemory m, uint gfn)
    {
        var bytes = new byte[4096];
        m.Read(gfn << 12, bytes);
        return bytes;
    }

    [Test]
    public void IdenticalFramesInTwoGuests_AreMergedAfterTwoScans_AndStillReadTheSame()
    {
        using var a = Guest();
        using var b = Guest();
        Fill(a, 3, 0x11);
        Fill(b, 9, 0x11);
        Fill(b, 10, 0x22);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0), (b, 0));
        Assert.That(_machine.FramesInUse, Is.EqualTo(3));

        engine.Step(engine.TotalFrames);   // first sight: checksums only
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(0));
        engine.Step(engine.TotalFrames);   // unchanged for a round: merged
        Assert.That(engine.Stats.PagesShared, Is.EqualTo(1));
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(1));
        Assert.That(_machine.FramesInUse, Is.EqualTo(2), "one frame saved");
        Assert.That(a.P2m.GetMfn(3), Is.EqualTo(b.P2m.GetMfn(9)));
        Assert.That(a.P2m.IsWritable(3) || b.P2m.IsWritable(9), Is.False, "a shared frame is read-only for everyone");
        Assert.That(Read(a, 3), Is.EqualTo(Read(b, 9)));
        Assert.That(Read(b, 10)[1], Is.EqualTo(0x22));
        Assert.That(engine.Stats.FullScans, Is.EqualTo(2));
    }

    [Test]
    public void FramesWhoseChecksumsCollide_AreNeverMerged_UnlessTheirBytesAreEqual()
    {
        using var a = Guest();
        Fill(a, 1, 0x11);
        Fill(a, 2, 0x22);
        Fill(a, 3, 0x11);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0));
        engine.ChecksumOverride = _ => 42;     // every frame "looks" the same
        engine.ScanFully();
        Assert.That(a.P2m.GetMfn(1), Is.EqualTo(a.P2m.GetMfn(3)), "equal bytes merge");
        Assert.That(a.P2m.GetMfn(2), Is.Not.EqualTo(a.P2m.GetMfn(1)), "a collision alone never does");
        Assert.That(Read(a, 2)[1], Is.EqualTo(0x22));
        Assert.That(engine.Stats.HashCollisions, Is.GreaterThan(0));
    }

    [Test]
    public void FrameThatChangesBetweenScans_IsVolatile_AndNotMerged()
    {
        using var a = Guest();
        Fill(a, 1, 0x11);
        Fill(a, 2, 0x11);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0));
        engine.Step(engine.TotalFrames);
        Fill(a, 2, 0x11, offset: 7);            // rewritten (now different) before the second look
        engine.Step(engine.TotalFrames);
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(0));
        Assert.That(engine.Stats.PagesVolatile, Is.EqualTo(1));
        Fill(a, 2, 0x11);                       // back to equal, then left alone
        engine.Step(engine.TotalFrames);
        engine.Step(engine.TotalFrames);
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(1));
    }

    [Test]
    public void AllZeroPrivateFrame_GoesBackToTheZeroFrame_AndAWriteBreaksItAgain()
    {
        using var a = Guest();
        a.Write(5 << 12, new byte[4096]);        // written, but with zeros: a private frame of zeros
        a.WriteByte((6 << 12) + 1, 7);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0));
        Assert.That(a.PrivateFrames, Is.EqualTo(2));
        engine.ScanFully();
        Assert.That(a.P2m.IsZeroMapped(5));
        Assert.That(engine.Stats.ZeroPages, Is.EqualTo(1));
        Assert.That(_machine.FramesInUse, Is.EqualTo(1));

        a.WriteByte((5 << 12) + 100, 9);
        Assert.That(a.ReadByte((5 << 12) + 100), Is.EqualTo(9));
        Assert.That(engine.Stats.ZeroPages, Is.EqualTo(0));
        Assert.That(engine.Stats.ZeroBreaks, Is.EqualTo(1));
        Assert.That(_machine.IsZeroFrameIntact());
    }

    [Test]
    public void WriteToAMergedFrame_BreaksTheSharingForThatGuestFrameOnly()
    {
        using var a = Guest();
        using var b = Guest();
        using var c = Guest();
        foreach (var g in new[] { a, b, c })
            Fill(g, 4, 0x33);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0), (b, 0), (c, 0));
        engine.ScanFully();
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(2));
        Assert.That(_machine.FramesInUse, Is.EqualTo(1));

        b.WriteByte((4 << 12) + 8, 0xEE);
        Assert.That(b.ReadByte((4 << 12) + 8), Is.EqualTo(0xEE));
        Assert.That(a.ReadByte((4 << 12) + 8), Is.EqualTo(0x33), "the others still read the shared content");
        Assert.That(c.ReadByte((4 << 12) + 8), Is.EqualTo(0x33));
        Assert.That(a.P2m.GetMfn(4), Is.EqualTo(c.P2m.GetMfn(4)));
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(1));
        Assert.That(engine.Stats.CowBreaks, Is.EqualTo(1));
        Assert.That(b.CopyOnWriteBreaks, Is.EqualTo(1));
        Assert.That(_machine.FramesInUse, Is.EqualTo(2));
    }

    [Test]
    public void WhenTheLastSharerLeaves_TheFrameGoesBackToThePool_AndLeavesTheIndex()
    {
        using var a = Guest();
        Fill(a, 1, 0x44);
        Fill(a, 2, 0x44);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0));
        engine.ScanFully();
        Mfn shared = a.P2m.GetMfn(1);
        Assert.That(_machine.RefCount(shared), Is.EqualTo(2));
        a.WriteByte(1 << 12, 1);
        a.WriteByte(2 << 12, 2);
        Assert.That(engine.Stats.PagesShared, Is.EqualTo(0));
        Assert.That(_machine.RefCount(shared), Is.EqualTo(0), "freed");
        Assert.That(_machine.FramesInUse, Is.EqualTo(2));

        // A new frame of the old content must not find the freed frame in the index.
        Fill(a, 3, 0x44);
        Fill(a, 4, 0x44);
        engine.ScanFully();
        Assert.That(a.P2m.GetMfn(3), Is.EqualTo(a.P2m.GetMfn(4)));
        Assert.That(Read(a, 3)[1], Is.EqualTo(0x44));
    }

    [TestCase(SharingPolicy.Off, 0, 0)]
    [TestCase(SharingPolicy.Guest, 2, 2)]
    [TestCase(SharingPolicy.All, 1, 3)]
    public void Policy_DecidesWhichFramesMayMeet(SharingPolicy policy, int expectedShared, int expectedSharing)
    {
        // Two guests, each with the same content in two frames.
        using var a = Guest();
        using var b = Guest();
        foreach (var g in new[] { a, b })
        {
            Fill(g, 1, 0x55);
            Fill(g, 2, 0x55);
        }

        var engine = Engine(_machine, policy, (a, 0), (b, 0));
        engine.ScanFully();
        Assert.That(engine.Stats.PagesShared, Is.EqualTo(expectedShared));
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(expectedSharing));
        if (policy == SharingPolicy.Guest)
            Assert.That(a.P2m.GetMfn(1), Is.Not.EqualTo(b.P2m.GetMfn(1)), "never across guests");
    }

    [Test]
    public void SaltedGroups_ShareWithinAGroup_AndNeverAcrossGroups()
    {
        using var a = Guest();
        using var b = Guest();
        using var c = Guest();
        foreach (var g in new[] { a, b, c })
            Fill(g, 7, 0x66);
        var engine = Engine(_machine, SharingPolicy.Salted, (a, 1), (b, 1), (c, 2));
        engine.ScanFully();
        Assert.That(a.P2m.GetMfn(7), Is.EqualTo(b.P2m.GetMfn(7)));
        Assert.That(c.P2m.GetMfn(7), Is.Not.EqualTo(a.P2m.GetMfn(7)));
        Assert.That(c.P2m.IsWritable(7), "the lone member of its group keeps its frame");
    }

    [Test]
    public void DisposingASharer_LeavesTheOthersIntact_AndTheIndexHonest()
    {
        var a = Guest();
        using var b = Guest();
        Fill(a, 2, 0x77);
        Fill(b, 2, 0x77);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0), (b, 0));
        engine.ScanFully();
        a.Dispose();
        Assert.That(engine.Stats.PagesSharing, Is.EqualTo(0));
        Assert.That(Read(b, 2)[1], Is.EqualTo(0x77));
        b.WriteByte(2 << 12, 0);                  // the last sharer breaks away: the frame is freed
        Assert.That(engine.Stats.PagesShared, Is.EqualTo(0));
        Assert.That(_machine.FramesInUse, Is.EqualTo(1));
    }

    [Test]
    public void Samples_CountTheTheoreticalMinimum()
    {
        using var a = Guest();
        using var b = Guest();
        Fill(a, 1, 0x11);
        Fill(a, 2, 0x22);
        Fill(b, 1, 0x11);
        Fill(b, 3, 0x33);
        var engine = Engine(_machine, SharingPolicy.All, (a, 0), (b, 0));
        engine.ScanFully();
        SharingSample last = engine.Samples[^1];
        Assert.That(last.GuestFramesInUse, Is.EqualTo(4));
        Assert.That(last.DistinctContents, Is.EqualTo(3));
        Assert.That(last.MachineFramesInUse, Is.EqualTo(3), "the theoretical minimum is reached");
    }
}

using System.Buffers.Binary;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>
/// The scanner threads merging beside guests that write: guest threads keep rewriting frames that are the
/// same in every guest (so they are merge candidates all the time), in bursts with random pauses between the
/// stores, through host pointers they cache per frame as the CPU's TLB does and drop when the P2M says so.
/// The scanner runs at its highest rate. Whatever the timing, no write is lost (every frame ends as its guest
/// wrote it), a guest never reads anything but what it wrote, and its mappings change on its own thread only.
/// </summary>
public class ConcurrentSharingRaceTests
{
    private const int Guests = 4;
    private const uint Frames = 192;
    private const int Quanta = 250;

    /// <summary>One simulated guest: its RAM, what it wrote (the run with sharing off), and its cached frame pointers.</summary>
    private sealed unsafe class WritingGuest
    {
        private readonly Dictionary<uint, nint> _writeTlb = new();
        private readonly Dictionary<uint, nint> _readTlb = new();
        private int _thread;

        public WritingGuest(MachineMemory machine)
        {
            Memory = new GuestPhysicalMemory(machine, Frames * 4096L);
            Memory.BackingChanged += gfn =>
            {
                if (Environment.CurrentManagedThreadId != Volatile.Read(ref _thread))
                    Interlocked.Increment(ref RemapsOnOtherThreads);
                _writeTlb.Remove(gfn);
                _readTlb.Remove(gfn);
            };
        }

        public GuestPhysicalMemory Memory { get; }

        public byte[] Model { get; } = new byte[Frames * 4096];

        public volatile bool Running = true;

        public int RemapsOnOtherThreads;

        public int WrongReads;

        public void Own() => Volatile.Write(ref _thread, Environment.CurrentManagedThreadId);

        public void Store(uint gfn, int offset, uint value)
        {
            if (!_writeTlb.TryGetValue(gfn, out nint host))
                _writeTlb[gfn] = host = (nint)Memory.FrameForWrite(gfn);
            *(uint*)((byte*)host + offset) = value;
            BinaryPrimitives.WriteUInt32LittleEndian(Model.AsSpan((int)(gfn * 4096) + offset), value);
        }

        public void CheckLoad(uint gfn, int offset)
        {
            if (!_readTlb.TryGetValue(gfn, out nint host))
                _readTlb[gfn] = host = (nint)Memory.FrameForRead(gfn);
            if (*(uint*)((byte*)host + offset) != BinaryPrimitives.ReadUInt32LittleEndian(Model.AsSpan((int)(gfn * 4096) + offset)))
                WrongReads++;
        }
    }

    /// <summary>The content every guest gives frame <paramref name="gfn"/> in version <paramref name="version"/> (version 0: all zero).</summary>
    private static uint Common(uint gfn, int version, int offset) => version == 0 ? 0 : (gfn * 0x9E3779B1u) ^ (uint)(version << 20) ^ (uint)offset;

    private static void RunGuest(WritingGuest g, SharingEngine engine, int seed)
    {
        g.Own();
        var random = new Random(seed);
        for (uint gfn = 0; gfn < Frames; gfn++)
        {
            for (int offset = 0; offset < 4096; offset += 4)
                g.Store(gfn, offset, Common(gfn, 1, offset));
        }

        for (int q = 0; q < Quanta; q++)
        {
            for (int op = 0; op < 6; op++)
            {
                uint gfn = (uint)random.Next((int)Frames);
                if (random.Next(3) == 0)
                {
                    // A store of this guest's own: the frame leaves the common content until rewritten.
                    g.Store(gfn, random.Next(1024) * 4, (uint)random.Next() | 1);
                }
                else
                {
                    // Back to a common version, in a few bursts with pauses: the scanner may hash it half written.
                    int version = random.Next(3);
                    for (int offset = 0; offset < 4096; offset += 4)
                    {
                        g.Store(gfn, offset, Common(gfn, version, offset));
                        if (offset % 1024 == 1020 && random.Next(4) == 0)
                            Thread.SpinWait(random.Next(2_000));
                    }
                }

                g.CheckLoad(gfn, random.Next(1024) * 4);
                g.CheckLoad((uint)random.Next((int)Frames), random.Next(1024) * 4);
            }

            // Between quanta, with this guest's "CPU" stopped: the merges the scanner asked of it.
            engine.ApplyRequests(g.Memory);
            if (random.Next(8) == 0)
                Thread.Sleep(random.Next(2));
        }

        engine.ApplyRequests(g.Memory);
        g.Running = false;
    }

    [TestCase(1, 11)]
    [TestCase(2, 23)]
    public void ScannerMergingBesideWritingGuests_NeverLosesAWrite(int scanThreads, int seedBase)
    {
        long merges = 0, abandoned = 0, breaks = 0;
        for (int repeat = 0; repeat < 8; repeat++)
        {
            int seed = (seedBase * 1000) + repeat;
            using var machine = new MachineMemory(Guests * Frames * 2);
            var guests = Enumerable.Range(0, Guests).Select(_ => new WritingGuest(machine)).ToList();
            var engine = new SharingEngine(machine, SharingPolicy.All);
            foreach (var (g, i) in guests.Select((g, i) => (g, i)))
                engine.Add(g.Memory, $"g{i}", 0, () => g.Running, () => 0);
            var scanner = new SharingScanner(engine, new ScanPacer(ScanPacer.MaxAutoRate), scanThreads);

            scanner.Start();
            var threads = guests.Select((g, i) => new Thread(() => RunGuest(g, engine, seed + i))).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            scanner.Stop();

            var frame = new byte[4096];
            Assert.Multiple(() =>
            {
                foreach (var (g, i) in guests.Select((g, i) => (g, i)))
                {
                    for (uint gfn = 0; gfn < Frames; gfn++)
                    {
                        g.Memory.Read(gfn << 12, frame);
                        Assert.That(frame.AsSpan().SequenceEqual(g.Model.AsSpan((int)(gfn * 4096), 4096)), Is.True,
                            $"seed {seed}: guest {i} frame {gfn} is not what the guest wrote");
                    }

                    Assert.That(g.WrongReads, Is.Zero, $"seed {seed}: guest {i} read something it never wrote");
                    Assert.That(g.RemapsOnOtherThreads, Is.Zero, $"seed {seed}: guest {i}'s mappings changed on another thread");
                }

                Assert.That(machine.IsZeroFrameIntact(), Is.True, $"seed {seed}: the zero frame was written");
            });

            merges += engine.Stats.Merges + engine.Stats.ZeroMerges;
            abandoned += engine.Stats.MergesAbandoned;
            breaks += engine.Stats.CowBreaks + engine.Stats.ZeroBreaks;
            foreach (WritingGuest g in guests)
                g.Memory.Dispose();
            Assert.That(machine.FramesInUse, Is.Zero, $"seed {seed}: frames left behind (a request's reference leaked)");
        }

        // The race was real: merges happened beside the writers, writes broke them, and some merges lost the race.
        Assert.That(merges, Is.GreaterThan(100), "merges");
        Assert.That(breaks, Is.GreaterThan(50), "copy-on-write and zero breaks");
        Assert.That(abandoned, Is.GreaterThan(0), "merges abandoned because the frame was written after it was hashed");
    }

    [Test]
    public void EqualFramesFoundWhileAPromotionWaits_JoinIt_SoOneContentMakesOneStableFrame()
    {
        using var machine = new MachineMemory(64);
        var memories = Enumerable.Range(0, 4).Select(_ => new GuestPhysicalMemory(machine, 4 * 4096L)).ToList();
        var frame = new byte[4096];
        Array.Fill(frame, (byte)0x3C);
        memories[0].Write(2 << 12, frame);
        memories[1].Write(2 << 12, frame);
        var engine = new SharingEngine(machine, SharingPolicy.All);
        for (int i = 0; i < memories.Count; i++)
            engine.Add(memories[i], $"g{i}", 0, () => true, () => 0);
        engine.BeginConcurrent();

        // Full scans while no guest reaches the end of a quantum: the first two frames' promotion waits across
        // rounds, and the other two guests write the same content meanwhile.
        for (long scans = engine.Stats.FullScans; engine.Stats.FullScans < scans + 3;)
            engine.ScanBatch(SharingEngine.MaxBatch);
        memories[2].Write(2 << 12, frame);
        memories[3].Write(2 << 12, frame);
        for (long scans = engine.Stats.FullScans; engine.Stats.FullScans < scans + 3;)
            engine.ScanBatch(SharingEngine.MaxBatch);
        Assert.That(machine.FramesInUse, Is.EqualTo(4), "the scanner itself never remaps");
        for (int pass = 0; pass < 2; pass++)
            memories.ForEach(engine.ApplyRequests);
        engine.EndConcurrent();

        Assert.That((engine.Stats.PagesShared, engine.Stats.PagesSharing), Is.EqualTo((1L, 3L)));
        Assert.That(machine.FramesInUse, Is.EqualTo(1));
        foreach (GuestPhysicalMemory m in memories)
        {
            var read = new byte[4096];
            m.Read(2 << 12, read);
            Assert.That(read, Is.EqualTo(frame));
            m.Dispose();
        }
    }
}

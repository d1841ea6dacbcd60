using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;
using MiniHv.Hv.Sharing;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Cli.Bench;

/// <summary>
/// The sharing engine's speed: the full-scan rate over eight guests of 64 MiB (every frame written, half of
/// them the same in every guest) beside a bare XxHash3 loop over the same frames (the baseline; the engine's own
/// <see cref="FrameHash"/> is timed over them too), and what a copy-on-write
/// break costs: at the median, alone, and all in, from a guest store through the shadow MMU.
/// </summary>
internal static class SharingBenchmarks
{
    private const int Guests = 8;

    public static IEnumerable<BenchResult> Run(int runs, bool quick)
    {
        long guestBytes = quick ? 8L << 20 : 64L << 20;
        var bare = new List<double>();
        var frameHash = new List<double>();
        var checksumRound = new List<double>();
        var mergeRound = new List<double>();
        var steadyRound = new List<double>();
        var besideMerge = new List<double>();
        var besideSteady = new List<double>();
        var besideApply = new List<double>();
        for (int r = -1; r < runs; r++)
        {
            long poolFrames = Guests * (guestBytes >> 12) + 16;
            double bareRate, frameHashRate, first, merging, steady;
            using (var machine = new MachineMemory(poolFrames))
            {
                var memories = Enumerable.Range(0, Guests).Select(g => Filled(machine, guestBytes, g)).ToList();
                bareRate = BareHashRate(memories, machine);
                frameHashRate = FrameHashRate(memories, machine);
                var engine = new SharingEngine(machine, SharingPolicy.All);
                for (int g = 0; g < Guests; g++)
                    engine.Add(memories[g], $"g{g}", 0, () => true, () => 0);
                (first, merging, steady) = (RoundRate(engine), RoundRate(engine), RoundRate(engine));
                foreach (GuestPhysicalMemory m in memories)
                    m.Dispose();
            }

            // The same contents again, scanned as a scanner thread does beside running guests; the guests' threads'
            // part (the merges asked of them) is done after each round and timed apart. In a pool of its own: a pool
            // hands freed frames out again last-freed first, and a bare hash over frames in that opposite host order
            // runs at about half the speed, so frames refilled in the same pool would not be the baseline's frames.
            double besideMerging, besideSteadyRate, applySeconds = 0;
            using (var machine = new MachineMemory(poolFrames))
            {
                var memories = Enumerable.Range(0, Guests).Select(g => Filled(machine, guestBytes, g)).ToList();
                var beside = new SharingEngine(machine, SharingPolicy.All);
                for (int g = 0; g < Guests; g++)
                    beside.Add(memories[g], $"g{g}", 0, () => true, () => 0);
                beside.BeginConcurrent();
                BesideRoundRate(beside, memories, ref applySeconds);
                besideMerging = BesideRoundRate(beside, memories, ref applySeconds);
                besideSteadyRate = BesideRoundRate(beside, memories, ref applySeconds);
                beside.EndConcurrent();
                if (beside.Stats.PagesSharing + beside.Stats.PagesShared < memories.Sum(m => (long)m.FrameCount) / 2)
                    throw new InvalidOperationException($"the scanner beside guests merged too little: {beside.Stats.PagesSharing} frames saved");
                foreach (GuestPhysicalMemory m in memories)
                    m.Dispose();
            }

            if (r < 0)
                continue; // the first run warms up (the JIT, the host pages of the pool)
            bare.Add(bareRate);
            frameHash.Add(frameHashRate);
            checksumRound.Add(first);
            mergeRound.Add(merging);
            steadyRound.Add(steady);
            besideMerge.Add(besideMerging);
            besideSteady.Add(besideSteadyRate);
            besideApply.Add(applySeconds * 1e3);
        }

        string frames = string.Create(CultureInfo.InvariantCulture, $"{Guests} guests x {guestBytes >> 20} MiB, every frame written");
        const string bareName = "baseline: bare XxHash3 over the frames";
        yield return new BenchResult(bareName, "Mframes/s", bare, Note: frames);
        yield return new BenchResult("FrameHash over the frames", "Mframes/s", frameHash, Baseline: bareName,
            Note: "the engine's own XXH3 of a frame (same numbers), fully optimized from its first call");
        yield return new BenchResult("full scan, first round (checksums)", "Mframes/s", checksumRound, Baseline: bareName);
        yield return new BenchResult("full scan, second round (merging)", "Mframes/s", mergeRound, Baseline: bareName,
            Note: "hashes each frame, compares and remaps the half that merge");
        yield return new BenchResult("full scan, steady (after merging)", "Mframes/s", steadyRound, Baseline: bareName,
            Note: "shared frames are passed over; the unique half is hashed again");
        yield return new BenchResult("scanner beside guests, merging round", "Mframes/s", besideMerge, Baseline: bareName,
            Note: "one scanner thread (ScanBatch): hashes, looks up and asks the guests for the merges");
        yield return new BenchResult("scanner beside guests, steady round", "Mframes/s", besideSteady, Baseline: bareName,
            Note: "one scanner thread after merging: shared frames passed over, the unique half hashed again");
        yield return new BenchResult("merges done on the guests' threads, all rounds", "ms", besideApply,
            Note: "write-protect, compare again and repoint, between quanta: guest time, not scanner time");
        yield return new BenchResult("cow break, median of one", "us", MedianBreaks(runs, quick ? 2_000 : 20_000),
            Note: "GuestPhysicalMemory write to a shared frame: copy, remap, engine follows");
        yield return AllInBreaks(runs, quick ? 2_000 : 8_000);
    }

    /// <summary>A guest of <paramref name="bytes"/> with every frame written: even frames the same in all guests, odd ones its own.</summary>
    private static GuestPhysicalMemory Filled(MachineMemory machine, long bytes, int guest)
    {
        var memory = new GuestPhysicalMemory(machine, bytes);
        var frame = new byte[4096];
        for (uint gfn = 0; gfn < memory.FrameCount; gfn++)
        {
            uint seed = (gfn & 1) == 0 ? gfn : gfn ^ ((uint)guest << 24) ^ 0x9E3779B1;
            for (int i = 0; i < frame.Length; i += 4)
                BitConverter.TryWriteBytes(frame.AsSpan(i), seed * 2654435761u + (uint)i);
            memory.Write(gfn << 12, frame);
        }

        return memory;
    }

    private static double BareHashRate(List<GuestPhysicalMemory> memories, MachineMemory machine)
        => HashRate(memories, machine, static frame => XxHash3.HashToUInt64(frame));

    /// <summary>The baseline's loop with the engine's hash, <see cref="FrameHash"/>, over the same frames in the same order.</summary>
    private static double FrameHashRate(List<GuestPhysicalMemory> memories, MachineMemory machine)
        => HashRate(memories, machine, FrameHash.Hash);

    /// <summary>Frames per second of <paramref name="hash"/> over every guest frame in order (a call per 4 KiB frame costs nothing to speak of).</summary>
    private static unsafe double HashRate(List<GuestPhysicalMemory> memories, MachineMemory machine, Func<ReadOnlySpan<byte>, ulong> hash)
    {
        ulong sink = 0;
        long frames = 0;
        var sw = Stopwatch.StartNew();
        foreach (GuestPhysicalMemory m in memories)
        {
            for (uint gfn = 0; gfn < m.FrameCount; gfn++)
            {
                sink ^= hash(new ReadOnlySpan<byte>(machine.FrameAddress(m.P2m.GetMfn(gfn)), 4096));
                frames++;
            }
        }

        GC.KeepAlive(sink);
        return frames / sw.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>One full round of the engine, in frames visited per second.</summary>
    private static double RoundRate(SharingEngine engine)
    {
        long before = engine.Stats.FullScans;
        var sw = Stopwatch.StartNew();
        while (engine.Stats.FullScans == before)
            engine.Step(long.MaxValue);
        return engine.TotalFrames / sw.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>One full round of a scanner thread beside the guests, in frames visited per second; then each guest does what it was asked.</summary>
    private static double BesideRoundRate(SharingEngine engine, List<GuestPhysicalMemory> memories, ref double applySeconds)
    {
        long before = engine.Stats.FullScans;
        var sw = Stopwatch.StartNew();
        while (engine.Stats.FullScans == before)
            engine.ScanBatch(SharingEngine.MaxBatch);
        double rate = engine.TotalFrames / sw.Elapsed.TotalSeconds / 1e6;
        var apply = Stopwatch.StartNew();
        for (int pass = 0; pass < 2; pass++) // a promotion asks its partners to join: a second pass does that
        {
            foreach (GuestPhysicalMemory m in memories)
                engine.ApplyRequests(m);
        }

        applySeconds += apply.Elapsed.TotalSeconds;
        return rate;
    }

    /// <summary>Each break timed on its own: a write to one of many frames shared by two guests.</summary>
    private static List<double> MedianBreaks(int runs, int breaks)
    {
        var medians = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            using var machine = new MachineMemory(4L * breaks + 64);
            using var a = new GuestPhysicalMemory(machine, (long)breaks << 12);
            using var b = new GuestPhysicalMemory(machine, (long)breaks << 12);
            ShareEverything(machine, a, b, breaks);
            var times = new double[breaks];
            for (uint gfn = 0; gfn < breaks; gfn++)
            {
                long t0 = Stopwatch.GetTimestamp();
                a.WriteByte((gfn << 12) + 8, 1);
                times[gfn] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }

            Array.Sort(times);
            medians.Add(times[breaks / 2]);
        }

        return medians;
    }

    /// <summary>Gives two guests the same contents in their first <paramref name="frames"/> frames and merges them all.</summary>
    private static SharingEngine ShareEverything(MachineMemory machine, GuestPhysicalMemory a, GuestPhysicalMemory b, int frames)
    {
        var frame = new byte[4096];
        for (uint gfn = 0; gfn < frames; gfn++)
        {
            BitConverter.TryWriteBytes(frame, gfn + 1);
            a.Write(gfn << 12, frame);
            b.Write(gfn << 12, frame);
        }

        var engine = new SharingEngine(machine, SharingPolicy.All);
        engine.Add(a, "a", 0, () => true, () => 0);
        engine.Add(b, "b", 0, () => true, () => 0);
        engine.ScanFully();
        if (engine.Stats.PagesSharing != frames)
            throw new InvalidOperationException($"expected {frames} shared frames, got {engine.Stats.PagesSharing}");
        return engine;
    }

    /// <summary>
    /// All in: guest code storing once to each of N pages, on a CPU with the shadow MMU, once with the pages
    /// shared and once with them private. The difference per page is what a break costs the guest: the
    /// write fault, the walk, the copy, the remap, the shootdown and the refill.
    /// </summary>
    private static BenchResult AllInBreaks(int runs, int pages)
    {
        var costs = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            double shared = StoreLoop(pages, share: true);
            double alone = StoreLoop(pages, share: false);
            costs.Add((shared - alone) / pages * 1e6);
        }

        return new BenchResult("cow break, all in from a guest store (mean)", "us", costs,
            Note: "shadow MMU, 4 KiB pages: guest store loop over shared pages minus the same loop over private ones");
    }

    private const uint Data = 0x400000;

    private static double StoreLoop(int pages, bool share)
    {
        long ram = Data + ((long)pages << 12) + (4L << 20);
        using var machine = new MachineMemory(3 * (ram >> 12));
        using var memory = new GuestPhysicalMemory(machine, ram);
        using var other = new GuestPhysicalMemory(machine, ram);
        using var cpu = new MiniHv.Cpu.Cpu(memory, new NoPorts());
        memory.BackingChanged += cpu.FlushTlbFrame;
        cpu.Mmu = new ShadowMmu(cpu, memory);

        // Identity map everything with 4 KiB pages: tables right after the directory at 0x1000.
        uint tables = (uint)((ram + (4L << 20) - 1) >> 22);
        memory.WriteUInt32(0x1000, 0);
        for (uint t = 0; t < tables; t++)
        {
            uint table = 0x2000 + (t * 0x1000);
            memory.WriteUInt32(0x1000 + (t * 4), table | 3);
            for (uint i = 0; i < 1024; i++)
                memory.WriteUInt32(table + (i * 4), (((t * 1024) + i) << 12) | 0x63); // present, writable, A, D
        }

        var frame = new byte[4096];
        for (uint p = 0; p < pages; p++)
        {
            BitConverter.TryWriteBytes(frame, p + 1);
            memory.Write(Data + (p << 12), frame);
            if (share)
                other.Write(Data + (p << 12), frame);
        }

        if (share)
        {
            var engine = new SharingEngine(machine, SharingPolicy.All);
            engine.Add(memory, "a", 0, () => true, () => 0);
            engine.Add(other, "b", 0, () => true, () => 0);
            engine.ScanFully();
        }

        var a = new Assembler(32);
        var loop = a.CreateLabel();
        a.mov(edi, Data);
        a.mov(ecx, pages);
        a.Label(ref loop);
        a.mov(__dword_ptr[edi + 16], ecx);
        a.add(edi, 4096);
        a.loop(loop);
        a.hlt();
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), 0x100000);
        memory.Write(0x100000, code.ToArray());
        cpu.Cr3 = 0x1000;
        cpu.Cr0 |= MiniHv.Cpu.Cpu.CR0_PG;
        cpu.Eip = 0x100000;
        var sw = Stopwatch.StartNew();
        StopReason stop = cpu.Run(10L * pages + 100);
        sw.Stop();
        if (stop != StopReason.Halted)
            throw new InvalidOperationException($"the store loop stopped: {stop}, {cpu.LastFault}");
        return sw.Elapsed.TotalSeconds;
    }
}

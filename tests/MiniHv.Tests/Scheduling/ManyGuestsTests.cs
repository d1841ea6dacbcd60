using System.IO.Hashing;
using System.Text;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Scheduling;
using MiniHv.Tests.Cli;
using MiniHv.Tests.EndToEnd;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Scheduling;

/// <summary>Many guests in one process, on one machine memory: same transcripts under either scheduler, no guest sees another's bytes, a guest that stops leaves the rest running.</summary>
public class ManyGuestsTests
{
    /// <summary>One guest of a multi-guest run: its VM and what it printed.</summary>
    private sealed record Guest(Vm Vm, MemoryStream Output)
    {
        public string Transcript => Encoding.UTF8.GetString(Output.ToArray());
    }

    private static List<Guest> Create(MachineMemory machine, IEnumerable<(string Name, string Image, string Append, long Memory, PagingMode Paging)> specs)
    {
        var guests = new List<Guest>();
        foreach (var (name, image, append, memory, paging) in specs)
        {
            var output = new MemoryStream();
            var config = new VmConfig
            {
                Name = name,
                Image = File.ReadAllBytes(image),
                CommandLine = MultibootLoader.QemuCommandLine(image, append),
                MemoryBytes = memory,
                MaxInstructions = GuestRun.DefaultMaxInstructions,
                Timeout = TimeSpan.FromSeconds(120),
                Paging = paging,
            };
            var vm = new Vm(config, machine, output.WriteByte);
            vm.CloseInput();
            guests.Add(new Guest(vm, output));
        }

        return guests;
    }

    private static IEnumerable<(string, string, string, long, PagingMode)> EveryJosProgram(PagingMode paging)
        => TestImages.Manifest("jos").Select(f => (f[0], TestImages.Jos, f[1], GuestRun.ParseQemuSize(f[2]), paging));

    [TestCase(true, PagingMode.Shadow)]
    [TestCase(false, PagingMode.Shadow)]
    [TestCase(false, PagingMode.Walk)]
    public void EveryJosProgram_SideBySide_PrintsItsQemuTranscript(bool deterministic, PagingMode paging)
    {
        var specs = EveryJosProgram(paging).ToList();
        using var machine = new MachineMemory(specs.Sum(s => s.Item4 >> 12));
        var guests = Create(machine, specs);
        IVmScheduler scheduler = deterministic ? new DeterministicScheduler() : new ParallelScheduler(threads: 4);
        scheduler.Run(guests.Select(g => g.Vm).ToList(), CancellationToken.None);
        Assert.Multiple(() =>
        {
            foreach (Guest g in guests)
            {
                Assert.That(g.Transcript, Is.EqualTo(TestImages.Golden("jos", g.Vm.Name)), g.Vm.Name);
                Assert.That(g.Vm.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{g.Vm.Name}: {g.Vm.Exit.Message}");
            }
        });
        foreach (Guest g in guests)
            g.Vm.Dispose();
        Assert.That(machine.FramesInUse, Is.EqualTo(0), "every frame went back to the pool");
    }

    [Test]
    public void EightGuestsFillingTheirMemory_NeverSeeEachOthersBytes()
    {
        const long ram = 4L << 20;
        var specs = Enumerable.Range(1, 8)
            .Select(i => ($"fill-{i}", TestImages.TestKernel("memfill"), $"seed={i}", ram, PagingMode.Shadow)).ToList();
        using var machine = new MachineMemory(8 * (ram >> 12));
        var guests = Create(machine, specs);
        new ParallelScheduler(threads: 8).Run(guests.Select(g => g.Vm).ToList(), CancellationToken.None);

        Assert.Multiple(() =>
        {
            for (int i = 0; i < guests.Count; i++)
            {
                uint seed = (uint)i + 1;
                string expected = $", 0 mismatches, checksum {MemfillChecksum(seed, ram):x}\n";
                Assert.That(guests[i].Transcript, Does.EndWith(expected), guests[i].Vm.Name);
                Assert.That(guests[i].Vm.Exit!.DebugExitStatus, Is.EqualTo(1), guests[i].Vm.Name);
            }
        });
        foreach (Guest g in guests)
            g.Vm.Dispose();
    }

    /// <summary>What memfill (tests/kernels/memfill.c) reports for a seed when it reads back only its own pattern.</summary>
    private static uint MemfillChecksum(uint seed, long ram)
    {
        uint end = (uint)(0x100000 + (MultibootLoader.MemUpperKiB(ram) * 1024));
        uint sum = 0;
        for (uint a = 0x200000; a < end; a += 4)
        {
            uint x = (a * 0x9E3779B1u) ^ (seed * 0x85EBCA77u);
            x ^= x >> 15;
            x *= 0x2C1B3C6Du;
            x ^= x >> 12;
            sum = ((sum << 1) | (sum >> 31)) ^ x;
        }

        return sum;
    }

    [Test]
    public void AGuestScanningThePhysicalAddressSpace_SeesNothingOfTheOthers_AndChangesNothingOfTheirs()
    {
        // First four guests fill their RAM and are torn down, leaving their patterns in freed frames; then a
        // scanner runs beside four more that fill theirs, writing every page above its own RAM meanwhile.
        var fills = Enumerable.Range(1, 4).Select(i => ($"old-{i}", TestImages.TestKernel("memfill"), $"seed={i}", 4L << 20, PagingMode.Shadow));
        using var machine = new MachineMemory(16 * (4 << 20 >> 12));
        var old = Create(machine, fills);
        new ParallelScheduler(threads: 4).Run(old.Select(g => g.Vm).ToList(), CancellationToken.None);
        foreach (Guest g in old)
            g.Vm.Dispose();

        var specs = Enumerable.Range(5, 4).Select(i => ($"fill-{i}", TestImages.TestKernel("memfill"), $"seed={i}", 4L << 20, PagingMode.Shadow))
            .Prepend(("scan", TestImages.TestKernel("physscan"), "", 8L << 20, PagingMode.Shadow));
        var guests = Create(machine, specs);
        new ParallelScheduler(threads: 5).Run(guests.Select(g => g.Vm).ToList(), CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(guests[0].Transcript, Does.Contain(": 0 nonzero words;").And.Contain(": 0 not a hole"), guests[0].Transcript);
            foreach (Guest g in guests)
                Assert.That(g.Vm.Exit!.DebugExitStatus, Is.EqualTo(1), () => $"{g.Vm.Name}: {g.Transcript}");
        });
        foreach (Guest g in guests)
            g.Vm.Dispose();
    }

    [Test]
    public void DeterministicRuns_ReplayExactly()
    {
        ulong[] first = FinalMemoryHashes();
        ulong[] second = FinalMemoryHashes();
        Assert.That(second, Is.EqualTo(first));
    }

    /// <summary>Runs forktree, spin and dedupwork deterministically and hashes every guest frame of each when they end.</summary>
    private static ulong[] FinalMemoryHashes()
    {
        var specs = new[] { "prog=forktree", "prog=spin", "prog=dedupwork dedup.rounds=3" }
            .Select((a, i) => ($"g{i}", TestImages.Jos, a, 32L << 20, PagingMode.Shadow)).ToList();
        using var machine = new MachineMemory(3 * (32 << 20 >> 12));
        var guests = Create(machine, specs);
        var hashes = new List<ulong>();

        new DeterministicScheduler(quantum: 7_919).Run(guests.Select(g => g.Vm).ToList(), CancellationToken.None);
        foreach (Guest g in guests)
        {
            var hash = new XxHash3();
            var frame = new byte[4096];
            for (uint gfn = 0; gfn < g.Vm.Memory.FrameCount; gfn++)
            {
                g.Vm.Memory.Read(gfn << 12, frame);
                hash.Append(frame);
            }

            hashes.Add(hash.GetCurrentHashAsUInt64() ^ (ulong)g.Vm.Instructions);
            g.Vm.Dispose();
        }

        return hashes.ToArray();
    }

    [Test]
    public void AGuestThatTripleFaults_LeavesTheOthersRunning()
    {
        string bad = CliRun.TempFile(TinyKernel.Build(a =>
        {
            a.mov(esp, 0x90000);
            a.push(0);
            a.push(0);
            a.lidt(__fword_ptr[esp]);
            a.ud2();
        }));
        var specs = new[]
        {
            ("bad", bad, "", 4L << 20, PagingMode.Shadow),
            ("forktree", TestImages.Jos, "prog=forktree", 64L << 20, PagingMode.Shadow),
        };
        using var machine = new MachineMemory(((4L << 20) + (64L << 20)) >> 12);
        var guests = Create(machine, specs);
        new ParallelScheduler(threads: 2).Run(guests.Select(g => g.Vm).ToList(), CancellationToken.None);
        Assert.That(guests[0].Vm.Exit!.Kind, Is.EqualTo(VmExitKind.TripleFault));
        Assert.That(guests[1].Transcript, Is.EqualTo(TestImages.Golden("jos", "forktree")));
        foreach (Guest g in guests)
            g.Vm.Dispose();
    }
}

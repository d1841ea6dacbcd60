using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The same guests with their processors on host threads of their own (<see cref="Vm.ProcessorThreads"/>, what the
/// parallel scheduler does): the transcripts stay QEMU's, the processors really run at once, and the hypervisor's
/// shootdowns (copy-on-write and zero-frame breaks, merges, page-table writes) reach processors that are running.
/// </summary>
public partial class MultiprocessorGuestTests
{
    public static IEnumerable<TestCaseData> SmpKernelsOnThreads()
        => from f in TestImages.Manifest("kernels-smp")
           from mode in new[] { PagingMode.Shadow, PagingMode.Walk }
           select new TestCaseData(f[0], f[1], f[2], f[3], int.Parse(f[4]), mode).SetName($"SmpKernelOnThreads_{f[0]}_{mode}");

    public static IEnumerable<TestCaseData> JosSmpProgramsOnThreads()
        => from f in TestImages.Manifest("jos-smp")
           select new TestCaseData(f[0], f[1], f[2], int.Parse(f[3])).SetName($"JosSmpOnThreads_{f[0]}");

    [TestCaseSource(nameof(SmpKernelsOnThreads))]
    public void SmpKernel_OnThreadsOfItsOwn_PrintsWhatQemuPrinted(string name, string append, string memory, string stdin, int processors,
        PagingMode paging)
    {
        string image = TestImages.TestKernel(KernelSuffix().Replace(name, ""));
        var run = GuestRun.Boot(image, append, GuestRun.ParseQemuSize(memory), GuestRun.Unescape(stdin), paging: paging, processors: processors,
            processorThreads: true);
        AssertSameAsQemu(run, TestImages.Golden("kernels-smp", name));
    }

    [TestCaseSource(nameof(JosSmpProgramsOnThreads))]
    public void JosSmpProgram_OnThreadsOfItsOwn_PrintsWhatQemuPrinted(string name, string append, string memory, int processors)
    {
        var run = GuestRun.Boot(TestImages.JosSmp, append, GuestRun.ParseQemuSize(memory), processors: processors, processorThreads: true);
        AssertSameAsQemu(run, TestImages.Golden("jos-smp", name));
    }

    [Test]
    public void TheParallelScheduler_GivesProcessorsThreads_OnlyWhenTheHostHasACoreForEach()
    {
        // smplock's 4 processors: on a host with fewer cores (CI has 2) they take turns, and no plain increment is lost.
        string image = TestImages.TestKernel("smplock");
        uint counter = ElfSymbols.Parse(File.ReadAllBytes(image)).Named("counter").Single().Value;
        using var machine = new MachineMemory(32 << 20 >> 12);
        var output = new MemoryStream();
        var config = new VmConfig
        {
            Name = "smplock",
            Image = File.ReadAllBytes(image),
            CommandLine = MultibootLoader.QemuCommandLine(image, ""),
            MemoryBytes = 32 << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
            Timeout = TimeSpan.FromSeconds(120),
            Processors = 4,
        };
        using var vm = new Vm(config, machine, output.WriteByte);
        vm.CloseInput();

        new MiniHv.Hv.Scheduling.ParallelScheduler(threads: 1).Run([vm], CancellationToken.None);

        bool threads = Environment.ProcessorCount >= 4;
        Assert.Multiple(() =>
        {
            Assert.That(vm.ProcessorThreads, Is.EqualTo(threads), $"{Environment.ProcessorCount} host cores");
            Assert.That(System.Text.Encoding.UTF8.GetString(output.ToArray()), Is.EqualTo(TestImages.Golden("kernels-smp", "smplock")));
            if (!threads)
                Assert.That(vm.Memory.ReadUInt32(counter), Is.EqualTo(4_000_000u), "taking turns, no plain increment is lost");
            Assert.That(MiniHv.Hv.Scheduling.ParallelScheduler.ProcessorThreadsFor(2, hostCores: 2), Is.True);
            Assert.That(MiniHv.Hv.Scheduling.ParallelScheduler.ProcessorThreadsFor(3, hostCores: 2), Is.False);
        });
    }

    [Test]
    public void PlainIncrements_LoseUpdates_OnlyWhenTheProcessorsRunAtOnce()
    {
        // smplock's last phase has 4 processors each do a million unlocked `incl counter`. Taking turns, an
        // instruction is never cut in two, so none is lost; at once on two host cores, some read-add-writes overlap.
        string image = TestImages.TestKernel("smplock");
        uint counter = ElfSymbols.Parse(File.ReadAllBytes(image)).Named("counter").Single().Value;
        const uint exact = 4_000_000;

        uint taking = 0;
        var turns = GuestRun.Boot(image, memoryBytes: 32 << 20, processors: 4, inspect: vm => taking = vm.Memory.ReadUInt32(counter));
        AssertSameAsQemu(turns, TestImages.Golden("kernels-smp", "smplock"));
        Assert.That(taking, Is.EqualTo(exact), "taking turns, no plain increment is lost");

        // The host may not give both threads a core at the same moment in one run (the machine is shared): a few tries.
        var totals = new List<uint>();
        for (int attempt = 0; attempt < 5 && (totals.Count == 0 || totals[^1] == exact); attempt++)
        {
            uint total = 0;
            var run = GuestRun.Boot(image, memoryBytes: 32 << 20, processors: 4, processorThreads: true,
                inspect: vm => total = vm.Memory.ReadUInt32(counter));
            AssertSameAsQemu(run, TestImages.Golden("kernels-smp", "smplock")); // the locked phase stays exact
            totals.Add(total);
        }

        Assert.That(totals, Has.All.LessThanOrEqualTo(exact));
        Assert.That(totals[^1], Is.LessThan(exact), $"plain totals on threads: {string.Join(", ", totals)}");
    }

    [Test]
    public void CopyOnWriteBreaksAndMerges_OnThreads_PrintWhatTheTurnsPrint()
    {
        // dedupwork rewrites pages the sharing engine merges between quanta, on whichever processor runs it, and
        // forktree's children break their parents' pages copy-on-write on both processors: each break (a shootdown to
        // every processor of the guest) happens while the other runs.
        // Two processors: the parallel scheduler gives processors threads only when the host has a core for each.
        Assume.That(Environment.ProcessorCount, Is.GreaterThanOrEqualTo(2), "a host with two cores");
        string[] dedup = ["--append", TestImages.Manifest("jos-smp").Single(f => f[0] == "dedupwork")[1]];
        string[] forktree = ["--append", "prog=forktree"];
        foreach (string[] program in new[] { dedup, forktree })
        {
            string[] args = ["run", TestImages.JosSmp, .. program, "-m", "64M", "-smp", "2", "--sharing", "guest", "--scan-rate", "5000000"];
            var turns = CliRun.InProcess([.. args, "--deterministic"]);
            Assert.That(turns.Status, Is.EqualTo(1), turns.ToString);
            for (int run = 0; run < 3; run++)
            {
                string stats = CliRun.TempFile([], $"smp-threads-{run}.json");
                var threads = CliRun.InProcess([.. args, "--stats", stats]);
                Assert.That(threads.Status, Is.EqualTo(1), threads.ToString);
                Assert.That(threads.Serial, Is.EqualTo(turns.Serial), "the transcript on threads, run " + run);
                var guest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats)).RootElement.GetProperty("guests")[0];
                Assert.That(guest.GetProperty("processors").EnumerateArray().Select(p => p.GetProperty("exclusive_sections").GetInt64()),
                    Has.All.GreaterThan(0), "every processor ran on its own thread");
                // Each of them waited for its sections to start and at the round barrier (an application processor at
                // least from a round's release to its thread's start): host time, so more than nothing.
                foreach (string wait in new[] { "section_wait_seconds", "barrier_wait_seconds" })
                {
                    Assert.That(guest.GetProperty("processors").EnumerateArray().Select(p => p.GetProperty(wait).GetDouble()),
                        Has.All.GreaterThan(0), wait);
                }
            }
        }
    }
}

using System.Text.RegularExpressions;
using MiniHv.Hv.Machine;
using MiniHv.Tests.Cli;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// Guests with several processors print what QEMU printed with <c>-smp N,sockets=N</c> (tests/golden/jos-smp and
/// tests/golden/kernels-smp): the multiprocessor JOS-style guest, and the kernels that start every AP and exercise each
/// IPI, the I/O APIC's destinations, locked increments, spinlock handoffs and a TLB shootdown.
/// </summary>
public partial class MultiprocessorGuestTests
{
    public static IEnumerable<TestCaseData> SmpKernels()
        => from f in TestImages.Manifest("kernels-smp")
           from mode in new[] { PagingMode.Shadow, PagingMode.Walk }
           select new TestCaseData(f[0], f[1], f[2], f[3], int.Parse(f[4]), mode).SetName($"SmpKernel_{f[0]}_{mode}");

    public static IEnumerable<TestCaseData> JosSmpPrograms()
        => from f in TestImages.Manifest("jos-smp")
           select new TestCaseData(f[0], f[1], f[2], int.Parse(f[3])).SetName($"JosSmp_{f[0]}");

    [TestCaseSource(nameof(SmpKernels))]
    public void SmpKernel_PrintsWhatQemuPrinted(string name, string append, string memory, string stdin, int processors, PagingMode paging)
    {
        string image = TestImages.TestKernel(KernelSuffix().Replace(name, ""));
        var run = GuestRun.Boot(image, append, GuestRun.ParseQemuSize(memory), GuestRun.Unescape(stdin), paging: paging, processors: processors);
        AssertSameAsQemu(run, TestImages.Golden("kernels-smp", name));
    }

    [TestCaseSource(nameof(JosSmpPrograms))]
    public void JosSmpProgram_PrintsWhatQemuPrinted(string name, string append, string memory, int processors)
    {
        var run = GuestRun.Boot(TestImages.JosSmp, append, GuestRun.ParseQemuSize(memory), processors: processors);
        AssertSameAsQemu(run, TestImages.Golden("jos-smp", name));
    }

    [Test]
    public void EveryProcessorRunsEnvironments_AndTheRunReplaysExactly()
    {
        long[]? first = null;
        for (int round = 0; round < 2; round++)
        {
            long[] perProcessor = [];
            var run = GuestRun.Boot(TestImages.JosSmp, "prog=cpus", processors: 4,
                inspect: vm => perProcessor = vm.Processors.Select(p => p.Cpu.InstructionsExecuted).ToArray());
            AssertSameAsQemu(run, TestImages.Golden("jos-smp", "cpus"));
            Assert.That(perProcessor, Has.Length.EqualTo(4).And.All.GreaterThan(0));
            if (first == null)
                first = perProcessor;
            else
                Assert.That(perProcessor, Is.EqualTo(first), "each processor's instruction count, run to run");
        }
    }

    [Test]
    public void UnderTheBlockCompiler_TheCountsAreTheInterpretersToo()
    {
        var interp = GuestRun.Boot(TestImages.JosSmp, "prog=forktree", processors: 4);
        var jit = GuestRun.Boot(TestImages.JosSmp, "prog=forktree", processors: 4, tier: MiniHv.Cpu.CpuTier.Jit);
        AssertSameAsQemu(jit, TestImages.Golden("jos-smp", "forktree"));
        Assert.That(jit.Instructions, Is.EqualTo(interp.Instructions));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void LockedIncrements_AreExact_InBothSchedulers(bool deterministic)
    {
        string[] args = ["run", "--guest", $"{TestImages.TestKernel("smplock")},smp=4,memory=32M", "--guest", $"{TestImages.Jos},append=prog=hello,memory=32M"];
        var r = CliRun.InProcess(deterministic ? [.. args, "--deterministic"] : args);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("[smplock] smplock: lock incl: 4 x 1000000 increments, total 4000000: exact"), r.ToString);
        Assert.That(r.Serial, Does.Contain("[jos] [00001000] exiting gracefully"), "a one-processor guest beside it");
    }

    [Test]
    public void FaultLog_NamesTheProcessorThatTookEachFault()
    {
        // forktree's children copy-on-write their parent's pages on whichever processor runs them.
        string log = CliRun.TempFile([], "smp-faults.json");
        var r = CliRun.InProcess(["run", TestImages.JosSmp, "--append", "prog=forktree", "-m", "64M", "-smp", "4", "--fault-log", log,
            "--log-hidden", "all"]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        var events = File.ReadAllLines(log).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var cpus = events.Select(e => e.GetProperty("Cpu").GetInt32()).ToHashSet();
        Assert.That(cpus, Is.SubsetOf(new[] { 0, 1, 2, 3 }).And.Count.GreaterThan(1), "faults taken on more than one processor");
        foreach (var e in events)
        {
            // The line people read (the console's and the JSON's rendered message) names the processor too.
            string guest = e.GetProperty("Guest").GetString()!;
            Assert.That(e.GetProperty("@m").GetString(), Does.StartWith($"[{guest} cpu{e.GetProperty("Cpu").GetInt32()}] "));
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StartupIpi_StartsTheApInRealModeAtTheVectorsPage_AndItsTripleFaultStopsTheGuestWithEveryProcessorDumped(bool processorThreads)
    {
        // The BSP writes a 16-bit trampoline at 0x8000 (lidt [0x8010], six zero bytes: an empty vector table; int3),
        // sends INIT and STARTUP with vector 8 to APIC 1, and halts with interrupts off. The AP's int3 cannot be
        // delivered, nor the #GP, nor the double fault: it shuts down.
        byte[] image = TinyKernel.Build(a =>
        {
            a.mov(__dword_ptr[0x8000], 0x101E010F);   // 0F 01 1E 10 80: lidt [0x8010]
            a.mov(__word_ptr[0x8004], 0xCC80);        // ... CC: int3
            a.mov(__dword_ptr[0xFEE00310], 0x0100_0000);
            a.mov(__dword_ptr[0xFEE00300], 0x0000_4500); // INIT, assert
            a.mov(__dword_ptr[0xFEE00310], 0x0100_0000);
            a.mov(__dword_ptr[0xFEE00300], 0x0000_4608); // STARTUP, page 8
            a.cli();
            a.hlt();
        });
        var run = GuestRun.Boot(CliRun.TempFile(image, $"apfault-{processorThreads}.elf"), processors: 2, processorThreads: processorThreads);
        Assert.That(run.Exit.Kind, Is.EqualTo(VmExitKind.TripleFault), run.Exit.Message);
        Assert.That(run.Exit.Message, Does.StartWith("triple fault on CPU 1 at eip "));
        Assert.That(run.RegisterDump, Does.Contain("CPU 0:").And.Contain("CPU 1:"));
    }

    private static void AssertSameAsQemu(GuestRunResult run, string golden)
    {
        Assert.Multiple(() =>
        {
            Assert.That(run.Transcript, Is.EqualTo(golden), () => $"exit: {run.Exit.Message}\n{run.RegisterDump}");
            Assert.That(run.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => run.Exit.Message);
            Assert.That(run.Exit.DebugExitStatus, Is.EqualTo(1));
        });
    }

    [GeneratedRegex("-smp[0-9]+$")]
    private static partial Regex KernelSuffix();
}

using System.IO.Hashing;
using System.Text.Json;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Scheduling;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The block compiler (--cpu jit) wherever the interpreter runs: the plain walk beside the shadow MMU, both
/// schedulers, sharing on and off, the PC test kernels. Every transcript is QEMU's; where the run is
/// deterministic, every guest retires exactly the interpreter's instruction count, and a run replays bit for bit.
/// </summary>
public class JitEverywhereTests
{
    public static IEnumerable<TestCaseData> TestKernelsOnTheWalk()
        => from f in TestImages.Manifest("kernels")
           select new TestCaseData(f[0], f[1], f[2], f[3]).SetName($"Kernel_{f[0]}_Jit_Walk");

    [TestCaseSource(nameof(TestKernelsOnTheWalk))]
    public void TestKernel_UnderJitOnThePlainWalk_PrintsWhatQemuPrinted_InTheInterpretersCount(string name, string append, string memory, string stdin)
    {
        GuestRunResult Boot(MiniHv.Cpu.CpuTier tier) => GuestRun.Boot(TestImages.TestKernel(name), append, GuestRun.ParseQemuSize(memory),
            GuestRun.Unescape(stdin), paging: PagingMode.Walk, tier: tier);
        var interp = Boot(MiniHv.Cpu.CpuTier.Interp);
        var jit = Boot(MiniHv.Cpu.CpuTier.Jit);
        Assert.Multiple(() =>
        {
            Assert.That(jit.Transcript, Is.EqualTo(TestImages.Golden("kernels", name)), () => $"exit: {jit.Exit.Message}\n{jit.RegisterDump}");
            Assert.That(jit.Exit.Kind, Is.EqualTo(VmExitKind.DebugExit), () => jit.Exit.Message);
            Assert.That(jit.Instructions, Is.EqualTo(interp.Instructions), "instructions retired");
        });
    }

    // Every JOS program side by side in one minihv run, as a user would start it.
    [TestCase("--deterministic", "all", "shadow")]
    [TestCase("--deterministic", "off", "walk")]
    [TestCase("--threads=2", "all", "shadow")]
    [TestCase("--threads=2", "off", "walk")]
    public void EveryJosProgram_UnderJit_SideBySide_PrintsItsQemuTranscript(string scheduler, string sharing, string paging)
    {
        var jit = RunEveryJosProgram("jit", scheduler, sharing, paging);
        Assert.Multiple(() =>
        {
            foreach (var f in TestImages.Manifest("jos"))
                Assert.That(jit.Transcripts[f[0]], Is.EqualTo(TestImages.Golden("jos", f[0])), f[0]);
            // Short programs, and one compile thread for twenty guests: how much runs compiled depends on the host's load.
            Assert.That(jit.Compiled.Values.Sum(), Is.GreaterThan(0), "instructions ran compiled");
        });

        if (scheduler != "--deterministic")
            return;
        var interp = RunEveryJosProgram("interp", scheduler, sharing, paging);
        Assert.That(jit.Instructions, Is.EqualTo(interp.Instructions), "each guest's instructions, deterministic run");
    }

    [Test]
    public void DeterministicRunsUnderJit_ReplayBitForBit_AsTheInterpreterRunsThem()
    {
        ulong[] interp = FinalMemoryHashes(MiniHv.Cpu.CpuTier.Interp);
        ulong[] first = FinalMemoryHashes(MiniHv.Cpu.CpuTier.Jit);
        ulong[] second = FinalMemoryHashes(MiniHv.Cpu.CpuTier.Jit);
        Assert.That(first, Is.EqualTo(interp), "memory and instruction count of each guest, jit against interp");
        Assert.That(second, Is.EqualTo(first), "jit against itself");
    }

    private sealed record EveryProgramRun(Dictionary<string, string> Transcripts, Dictionary<string, long> Instructions, Dictionary<string, long> Compiled);

    private static EveryProgramRun RunEveryJosProgram(string tier, string scheduler, string sharing, string paging)
    {
        string dir = Path.Combine(Path.GetTempPath(), "minihv-tests", Guid.NewGuid().ToString("N"));
        string stats = Path.Combine(dir, "stats.json");
        var args = new List<string> { "run", "--cpu", tier, scheduler, "--sharing", sharing, "--paging", paging, "--serial-dir", dir, "--stats", stats };
        foreach (var f in TestImages.Manifest("jos"))
            args.AddRange(["--guest", $"{TestImages.Jos},append={f[1].Replace(",", ",,")},memory={f[2]},name={f[0]}"]);
        var r = CliRun.InProcess(args.ToArray());
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);

        var transcripts = TestImages.Manifest("jos").ToDictionary(f => f[0], f => File.ReadAllText(Path.Combine(dir, f[0] + ".log")));
        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        var instructions = new Dictionary<string, long>();
        var compiled = new Dictionary<string, long>();
        foreach (JsonElement g in doc.RootElement.GetProperty("guests").EnumerateArray())
        {
            string name = g.GetProperty("name").GetString()!;
            instructions[name] = g.GetProperty("instructions").GetInt64();
            compiled[name] = g.TryGetProperty("jit", out JsonElement j) && j.ValueKind == JsonValueKind.Object
                ? j.GetProperty("instructions_compiled").GetInt64() : 0;
        }

        return new EveryProgramRun(transcripts, instructions, compiled);
    }

    /// <summary>Runs forktree, spin and dedupwork deterministically in small quanta and hashes each guest's frames and count at the end.</summary>
    private static ulong[] FinalMemoryHashes(MiniHv.Cpu.CpuTier tier)
    {
        var appends = new[] { "prog=forktree", "prog=spin", "prog=dedupwork dedup.rounds=3" };
        using var machine = new MachineMemory(appends.Length * (32 << 20 >> 12));
        var vms = appends.Select((append, i) =>
        {
            var config = new VmConfig
            {
                Name = $"g{i}",
                Image = File.ReadAllBytes(TestImages.Jos),
                CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, append),
                MemoryBytes = 32 << 20,
                MaxInstructions = GuestRun.DefaultMaxInstructions,
                Timeout = TimeSpan.FromSeconds(120),
                Tier = tier,
            };
            var vm = new Vm(config, machine, _ => { });
            vm.CloseInput();
            return vm;
        }).ToList();

        new DeterministicScheduler(quantum: 7_919).Run(vms, CancellationToken.None);
        var hashes = new List<ulong>();
        var frame = new byte[4096];
        foreach (Vm vm in vms)
        {
            Assert.That(vm.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit), () => $"{vm.Name}: {vm.Exit.Message}");
            var hash = new XxHash3();
            for (uint gfn = 0; gfn < vm.Memory.FrameCount; gfn++)
            {
                vm.Memory.Read(gfn << 12, frame);
                hash.Append(frame);
            }

            hashes.Add(hash.GetCurrentHashAsUInt64() ^ (ulong)vm.Instructions);
            vm.Dispose();
        }

        return hashes.ToArray();
    }
}

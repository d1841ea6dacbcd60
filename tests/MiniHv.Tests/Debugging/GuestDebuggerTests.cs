using MiniHv.Hv.Debugging;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Scheduling;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Debugging;

/// <summary>A debugged guest among others: held without holding them, and written through the debugger without touching their memory.</summary>
public class GuestDebuggerTests
{
    private static Vm Jos(MachineMemory machine, string name)
    {
        var config = new VmConfig
        {
            Name = name,
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, "prog=hello"),
            MemoryBytes = 16 << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        var vm = new Vm(config, machine, _ => { });
        vm.CloseInput();
        return vm;
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"never happened: {what}");
            Thread.Sleep(5);
        }
    }

    [TestCase(true, 1)]
    [TestCase(false, 1)]
    [TestCase(false, 2)]
    public void GuestHeldByItsDebugger_LetsTheOthersRunToTheirEnd(bool deterministic, int threads)
    {
        using var machine = new MachineMemory(2 * (16 << 20 >> 12));
        using Vm held = Jos(machine, "held"), other = Jos(machine, "other");
        var debugger = new GuestDebugger(held, startStopped: true);
        held.Debugger = debugger;
        IVmScheduler scheduler = deterministic ? new DeterministicScheduler() : new ParallelScheduler(threads);
        var run = Task.Factory.StartNew(() => scheduler.Run([held, other], CancellationToken.None), TaskCreationOptions.LongRunning);

        WaitUntil(() => other.Exit != null, "the other guest ends");
        Assert.That(other.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit));
        Assert.That(held.Instructions, Is.Zero, "held before its first instruction all along");
        Assert.That(debugger.State, Is.EqualTo(DebugState.Stopped));
        Assert.That(debugger.Inspect(vm => vm.Cpu.Eip.ToString("x8")), Is.EqualTo(held.Entry.EntryPoint.ToString("x8")),
            "a request runs on the guest's thread while it is held");

        debugger.Resume(step: false);
        Assert.That(run.Wait(TimeSpan.FromSeconds(120)), Is.True);
        Assert.That(held.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit), held.Exit.Message);
        Assert.That(debugger.State, Is.EqualTo(DebugState.Exited));
    }

    [Test]
    public void DebuggerWriteToASharedFrame_BreaksTheSharingForThatGuestOnly()
    {
        using var machine = new MachineMemory(2 * (16 << 20 >> 12));
        using Vm a = Jos(machine, "a"), b = Jos(machine, "b");
        var engine = new SharingEngine(machine, SharingPolicy.All);
        engine.Add(a);
        engine.Add(b);
        engine.ScanFully();
        uint text = a.Entry.EntryPoint & ~0xFFFu; // paging is still off: linear is physical
        Assert.That(engine.GuestCounters(a.Memory).FramesOnStable, Is.GreaterThan(0), "the two kernels' frames were merged");
        byte[] before = DebugMemory.Read(b, text, 4);
        long breaksBefore = a.Memory.CopyOnWriteBreaks;

        Assert.That(DebugMemory.Write(a, text, [0xde, 0xad, 0xbe, 0xef]), Is.True);

        Assert.That(DebugMemory.Read(a, text, 4), Is.EqualTo(new byte[] { 0xde, 0xad, 0xbe, 0xef }));
        Assert.That(DebugMemory.Read(b, text, 4), Is.EqualTo(before), "the other guest still sees its own bytes");
        Assert.That(a.Memory.CopyOnWriteBreaks, Is.EqualTo(breaksBefore + 1), "a copy-on-write break, as for a guest store");
        Assert.That(b.Memory.CopyOnWriteBreaks, Is.Zero);
        Assert.That(DebugMemory.Write(a, 0xFFFF_F000, [1]), Is.False, "beyond RAM: nothing written");
    }
}

using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Performance;

/// <summary>
/// Kernel paths allocate nothing on the managed heap once warm: a guest switching address spaces, making
/// system calls and taking timer interrupts runs millions of instructions without garbage (which would cost
/// collections in every guest of a run). The one thing that allocates is the decoded-block cache meeting code it
/// has not seen: an interrupt can land on any instruction of a loop, and each new entry point is a new block. So
/// every window must allocate no more than its new blocks explain, and a window with none must allocate nothing.
/// </summary>
public class SteadyStateAllocationTests
{
    private const long Window = 1_000_000;

    /// <summary>A block, its pinned instructions and Iced's decoder for it: what one new block may cost.</summary>
    private const long MaxBytesPerBlock = 4096;

    private static Vm Boot(MachineMemory machine, string append)
    {
        var config = new VmConfig
        {
            Name = "alloc",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, append),
            MemoryBytes = 64 << 20,
        };
        var vm = new Vm(config, machine, _ => { });
        vm.CloseInput();
        return vm;
    }

    [TestCase("prog=pingpong pingpong.rounds=1000000", TestName = "IpcPingPong_AllocatesNothing")]
    [TestCase("prog=yield yield.count=1000000", TestName = "AddressSpaceSwitches_AllocateNothing")]
    [TestCase("prog=syscalls syscalls.count=10000000", TestName = "SystemCalls_AllocateNothing")]
    public void KernelPathsInSteadyState(string append)
    {
        using var machine = new MachineMemory(64L << 20 >> 12);
        using Vm vm = Boot(machine, append);
        while (vm.Instructions < 10_000_000 && vm.Run(100_000) == VmRunState.Running)
        {
            // boot, decode the loops, let the JIT tier up
        }

        long decodedInWindows = 0, interrupts = 0, switches = 0, allocatedInWindows = 0;
        for (int w = 0; w < 10; w++)
        {
            long decoded = vm.Cpu.BlocksDecoded, cr3 = vm.Shadow!.Stats.Cr3Switches, ticks = vm.Pit.Irq0Edges;
            long target = vm.Instructions + Window;
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (vm.Instructions < target && vm.Run(100_000) == VmRunState.Running)
            {
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            long newBlocks = vm.Cpu.BlocksDecoded - decoded;
            Assert.That(vm.Exit, Is.Null, "the guest ran to its end inside the measured windows");
            Assert.That(allocated, Is.LessThanOrEqualTo(newBlocks * MaxBytesPerBlock),
                $"window {w}: {allocated} bytes in {Window} instructions, {newBlocks} blocks decoded");
            decodedInWindows += newBlocks;
            allocatedInWindows += allocated;
            interrupts += vm.Pit.Irq0Edges - ticks;
            switches += vm.Shadow.Stats.Cr3Switches - cr3;
        }

        Assert.That(interrupts, Is.GreaterThan(0), "timer interrupts in the windows");
        Assert.That(decodedInWindows, Is.LessThan(10 * Window / 100_000), "the code is warm: few new blocks");
        TestContext.Out.WriteLine(
            $"{10 * Window} instructions: {switches} CR3 switches, {interrupts} timer interrupts, {decodedInWindows} new blocks, {allocatedInWindows} bytes");
    }
}

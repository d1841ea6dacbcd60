using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.Sharing;

namespace MiniHv.Tests.EndToEnd;

/// <summary>A guest's time is its own instruction count: how the machine slices it into quanta never changes what the guest does.</summary>
public class VirtualTimeTests
{
    [TestCase("prog=spin spin.yields=5")]
    [TestCase("prog=forktree")]
    [TestCase("prog=primes")]
    public void TimerPreemption_IsTheSame_WhateverTheQuantum(string append)
    {
        var outcomes = new[] { 1_000_000L, 100_000, 7_919, 1_000 }.Select(q => Run(append, q)).ToList();
        Assert.That(outcomes.Select(o => o.Instructions).Distinct().Count(), Is.EqualTo(1), string.Join(", ", outcomes.Select(o => o.Instructions)));
        Assert.That(outcomes.Select(o => o.Hash).Distinct().Count(), Is.EqualTo(1), "the same final memory");
    }

    private static (long Instructions, ulong Hash) Run(string append, long quantum)
    {
        var config = new VmConfig
        {
            Name = "jos",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine("jos.elf", append),
            MemoryBytes = 32L << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        using var machine = new MachineMemory(config.MemoryBytes >> 12);
        using var vm = new Vm(config, machine, _ => { });
        vm.CloseInput();
        while (vm.Run(quantum) != VmRunState.Exited)
        {
        }

        Assert.That(vm.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit), vm.Exit.Message);
        return (vm.Instructions, SharedRun.MemoryHash(vm.Memory));
    }
}

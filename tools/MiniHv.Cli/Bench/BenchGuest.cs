using System.Diagnostics;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Scheduling;

namespace MiniHv.Cli.Bench;

/// <summary>One timed run of the embedded JOS-style guest, for the benchmarks that measure a real kernel.</summary>
internal static class BenchGuest
{
    /// <summary>Boots the guest with <paramref name="append"/>, runs it to its end and times it; the VM is handed to <paramref name="inspect"/> before it goes.</summary>
    public static double Mips(string append, PagingMode paging = PagingMode.Shadow, Action<Vm>? inspect = null,
        MiniHv.Cpu.CpuTier tier = MiniHv.Cpu.CpuTier.Interp)
    {
        var (instructions, elapsed) = Time(append, paging, inspect, tier);
        return instructions / elapsed.TotalSeconds / 1e6;
    }

    /// <summary>Boots the guest with <paramref name="append"/> and runs it to its end: its instructions and the host time they took.</summary>
    /// <param name="processors">The guest's processors; more than one boots the multiprocessor flavour, jos-smp.elf.</param>
    /// <param name="multiprocessorImage">Boot jos-smp.elf even with one processor (to compare it with itself on more).</param>
    /// <param name="processorThreads">Run the processors on threads of their own (true) or in turns (false); by default as the parallel scheduler would on this host.</param>
    /// <param name="marks">Fed the guest's serial output as it is written, to time a part of the run.</param>
    public static (long Instructions, TimeSpan Elapsed) Time(string append, PagingMode paging = PagingMode.Shadow, Action<Vm>? inspect = null,
        MiniHv.Cpu.CpuTier tier = MiniHv.Cpu.CpuTier.Interp, int processors = 1, bool multiprocessorImage = false,
        bool? processorThreads = null, SerialMarks? marks = null)
    {
        GuestRun run = Measure(append, paging, inspect, tier, processors, multiprocessorImage, processorThreads, marks);
        return (run.Instructions, run.Elapsed);
    }

    /// <summary>One run's instructions, its wall time, and the CPU time of the thread that ran it.</summary>
    /// <param name="ThreadCpu">
    /// The calling thread's CPU time over the run (<see cref="MiniHv.Cpu.ThreadCpuClock"/>): with one processor the guest runs on
    /// that thread, so this leaves out the time it waited for a core on a busy host. With more processors on threads of their
    /// own it is not the guest's time.
    /// </param>
    public readonly record struct GuestRun(long Instructions, TimeSpan Elapsed, TimeSpan ThreadCpu);

    /// <summary>As <see cref="Time"/>, with the CPU time of the calling thread (the guest's, with one processor) too.</summary>
    public static GuestRun Measure(string append, PagingMode paging = PagingMode.Shadow, Action<Vm>? inspect = null,
        MiniHv.Cpu.CpuTier tier = MiniHv.Cpu.CpuTier.Interp, int processors = 1, bool multiprocessorImage = false,
        bool? processorThreads = null, SerialMarks? marks = null)
    {
        bool smp = multiprocessorImage || processors > 1;
        var config = new VmConfig
        {
            Name = "bench",
            Image = smp ? EmbeddedGuests.JosSmp() : EmbeddedGuests.Jos(),
            CommandLine = $"{(smp ? EmbeddedGuests.JosSmpName : EmbeddedGuests.JosName)} {append}",
            Processors = processors,
            MemoryBytes = 64L << 20,
            Paging = paging,
            Tier = tier,
        };
        using var machine = new MachineMemory(config.MemoryBytes >> MachineMemory.FrameShift);
        using var vm = new Vm(config, machine, marks == null ? _ => { } : marks.Observe);
        vm.ProcessorThreads = processorThreads ?? ParallelScheduler.ProcessorThreadsFor(processors); // as the parallel scheduler runs it
        vm.CloseInput();
        TimeSpan cpuBefore = MiniHv.Cpu.ThreadCpuClock.Now();
        var sw = Stopwatch.StartNew();
        VmExit exit = vm.RunToEnd();
        sw.Stop();
        TimeSpan cpu = MiniHv.Cpu.ThreadCpuClock.Now() - cpuBefore;
        if (exit.Kind != VmExitKind.DebugExit)
            throw new InvalidOperationException($"the benchmark guest did not finish: {exit.Message}");
        inspect?.Invoke(vm);
        return new GuestRun(vm.Instructions, sw.Elapsed, cpu);
    }
}

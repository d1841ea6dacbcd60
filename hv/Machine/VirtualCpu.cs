using MiniHv.Hv.Devices.Apic;

namespace MiniHv.Hv.Machine;

/// <summary>
/// One processor of a guest: its CPU and its local APIC. An application processor starts in the
/// wait-for-SIPI state and leaves it on a STARTUP IPI, in real mode at the vector's page, as on a PC.
/// </summary>
public sealed class VirtualCpu
{
    internal VirtualCpu(int index, Cpu.Cpu cpu, LocalApic lapic)
    {
        Index = index;
        Cpu = cpu;
        Lapic = lapic;
        WaitingForStartup = index != 0;
        Started = index == 0;
    }

    /// <summary>The processor's number: 0 is the boot processor; its APIC ID is the same.</summary>
    public int Index { get; }

    public Cpu.Cpu Cpu { get; }

    public LocalApic Lapic { get; }

    /// <summary>Reset by INIT (or never started) and waiting for a STARTUP IPI; it runs nothing meanwhile.</summary>
    public bool WaitingForStartup { get; internal set; }

    /// <summary>The processor has run: it is the boot processor, or a STARTUP IPI started it.</summary>
    public bool Started { get; internal set; }

    /// <summary>The vector of a STARTUP IPI received while waiting, taken when the processor next runs.</summary>
    internal byte? PendingStartup { get; set; }

    /// <summary>The processor's virtual time: instructions retired (exact mid-run) and those skipped halted or waiting.</summary>
    public long Clock => Cpu.InstructionsNow + Cpu.HaltedInstructions;

    /// <summary>On threads of its own: halted or waiting, it lets others run and follows their time (Vm.Threads.cs).</summary>
    internal bool Idling { get; set; }

    /// <summary>On threads of its own: done with the current round (its clock reached the round's end, or the guest stopped).</summary>
    internal bool RoundDone { get; set; }

    /// <summary>
    /// On threads of its own: host time (Stopwatch ticks) its thread waited at the round barrier, from the end of its
    /// part of a round to the end of the round, and (an application processor) from a round's start to its thread's.
    /// </summary>
    public long BarrierTicks { get; internal set; }

    /// <summary>On threads of its own: host time (Stopwatch ticks) its thread slept halted, waiting for a wake-up or its next look at the time.</summary>
    public long IdleWaitTicks { get; internal set; }

    /// <summary>When its part of the current round ended (Stopwatch ticks).</summary>
    internal long RoundDoneAt { get; set; }

    /// <summary>Set when something may have woken it while it idles on its own thread.</summary>
    internal ManualResetEventSlim Wake { get; } = new(false);

    /// <summary>Halted with interrupts off and no NMI coming: only an NMI, INIT or STARTUP can move it.</summary>
    internal bool HaltedForGood => Cpu.IsHalted && (Cpu.Eflags & MiniHv.Cpu.Cpu.IF) == 0 && !Cpu.HasPendingNmi;
}

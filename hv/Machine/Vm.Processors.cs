using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// The run loop of a multiprocessor guest: rounds in which every processor runs in turn for the same span of
/// virtual time (<see cref="ProcessorSlice"/>), so all their clocks meet at each round's end and a run replays
/// exactly. A processor halted, waiting for STARTUP or halted for good passes its turn as idle time, and so does one
/// that spins on PAUSE (<see cref="PauseLoopLimit"/> of them in a turn: the lock's holder cannot release it until
/// it runs); a round in which every processor is idle skips ahead to the next timer event.
/// </summary>
public sealed partial class Vm
{
    /// <summary>PAUSEs within one turn after which a processor of a multiprocessor guest gives the rest of its turn away.</summary>
    public const int PauseLoopLimit = 16;

    private VmRunState RunProcessors(long quantum)
    {
        long remaining = quantum;
        while (remaining > 0)
        {
            if (_stopRequested)
                return Finish(VmExitKind.Stopped, "stopped");
            if (Debugger != null && Debugger.TakeInterrupt())
                return HoldForDebugger(new Debugging.GuestStop(default, Interrupted: true, Processor: ActiveProcessor.Index));
            if (Config.Timeout is TimeSpan limit && _wallClock.Elapsed >= limit)
                return Finish(VmExitKind.TimeLimit, $"time limit of {limit.TotalSeconds:0.###} s reached");
            if (Config.MaxInstructions is long max && Instructions >= max)
                return Finish(VmExitKind.InstructionLimit, $"instruction limit of {max} reached");

            Serial.Poll();
            long slice = Math.Min(remaining, ProcessorSlice);
            if (AllIdle())
            {
                if (AllHaltedForGood())
                    return Finish(VmExitKind.HaltedForever, $"every processor halted with interrupts disabled (the boot processor at eip {Cpu.Eip:x8})");
                long wake = long.MaxValue;
                foreach (VirtualCpu p in _processors)
                {
                    if (!p.WaitingForStartup && !p.HaltedForGood)
                        wake = Math.Min(wake, TimerWakeup(p));
                }

                if (wake == long.MaxValue && !Serial.HasPendingInput)
                {
                    if (_inputClosed)
                        return Finish(VmExitKind.HaltedForever,
                            $"every processor halted waiting for an interrupt, with no timer running and no input to come (the boot processor at eip {Cpu.Eip:x8})");
                    return VmRunState.WaitingForInput;
                }

                if (wake != long.MaxValue)
                    slice = Math.Min(remaining, Math.Max(slice, wake));
            }

            long end = _roundStart + slice;
            foreach (VirtualCpu p in _processors)
            {
                if (RunProcessorUntil(p, end) is VmRunState state)
                    return state;
            }

            _roundStart = end;
            remaining -= slice;
        }

        return VmRunState.Running;
    }

    /// <summary>Run one processor until its clock reaches <paramref name="end"/>; a state when the guest stops, else null.</summary>
    private VmRunState? RunProcessorUntil(VirtualCpu p, long end)
    {
        if (p.PendingStartup is byte vector)
        {
            // STARTUP: real mode at vector * 4096, as CS = vector * 256 and IP = 0 (SDM 8.4.4.1).
            Activate(p);
            p.Cpu.ResetReal(cs: (ushort)(vector << 8), ip: 0, sp: 0);
            p.WaitingForStartup = false;
            p.PendingStartup = null;
            p.Started = true;
        }

        while (true)
        {
            long clock = p.Clock;
            if (clock >= end)
                return null;
            if (_stopRequested)
                return Finish(VmExitKind.Stopped, "stopped");
            if (p.WaitingForStartup || p.HaltedForGood)
            {
                // It runs nothing, so it is not made the active processor: the shadows need not hear of it.
                Idle(p, end - clock);
                return null;
            }

            if (Debugger != null && Debugger.TakeInterrupt())
                return HoldForDebugger(new Debugging.GuestStop(default, Interrupted: true, Processor: p.Index));
            Activate(p);
            long chunk = Math.Min(end - clock, Math.Min(Pit.InstructionsUntilNextEvent(), p.Lapic.InstructionsUntilNextEvent()));
            StopReason reason = p.Cpu.Run(chunk);
            AdvanceTimers(p);
            switch (reason)
            {
                case StopReason.Halted:
                    if (!p.HaltedForGood)
                        Idle(p, Math.Min(end - p.Clock, TimerWakeup(p)));
                    break;
                case StopReason.PauseLoop:
                    // Spinning on a lock held by a processor that is not running: nothing can change before the
                    // next timer event or the end of the turn, so the turn is given away as idle time.
                    Idle(p, Math.Min(end - p.Clock, Math.Min(Pit.InstructionsUntilNextEvent(), p.Lapic.InstructionsUntilNextEvent())));
                    break;
                case StopReason.StopRequested:
                    if (AfterStopRequest(p.Cpu, where: $" on CPU {p.Index}") is VmRunState stopped)
                        return stopped;
                    break; // an INIT, or a stop request of ours that the loop head sees
                case StopReason.TripleFault:
                    return TripleFaulted(p.Cpu, where: $" on CPU {p.Index}");
                case StopReason.Debug:
                    return HoldForDebugger(new Debugging.GuestStop(p.Cpu.LastDebugStop, Interrupted: false, Processor: p.Index));
                case StopReason.Unsupported:
                    return Finish(VmExitKind.Unsupported, $"unsupported on CPU {p.Index}: {p.Cpu.UnsupportedReason}", dump: true);
            }
        }
    }

    /// <summary>Make <paramref name="p"/> the processor the APIC window, the shadow MMU and the devices' clock see.</summary>
    private void Activate(VirtualCpu p)
    {
        if (_active == p)
            return;
        _active = p;
        _lapicWindow.Apic = p.Lapic;
        Shadow?.Activate(p.Index);
    }

    /// <summary>Let <paramref name="instructions"/> of virtual time pass on a processor that runs nothing.</summary>
    private void Idle(VirtualCpu p, long instructions)
    {
        if (instructions <= 0)
            return;
        p.Cpu.HaltedInstructions += instructions;
        AdvanceTimers(p);
    }

    /// <summary>The PIT and the processor's own APIC timer to its clock (the PIT never goes back: another processor may have moved it on).</summary>
    private void AdvanceTimers(VirtualCpu p)
    {
        long now = p.Clock;
        Pit.AdvanceTo(now);
        LocalApicWindow.AdvanceTo(p.Lapic, now);
    }

    /// <summary>Instructions of virtual time until a timer can wake the halted processor, or long.MaxValue.</summary>
    private long TimerWakeup(VirtualCpu p)
    {
        // The PIT reaches the boot processor through the PICs, and any processor through an unmasked I/O APIC entry.
        bool pitThroughPic = p.Index == 0 && (Pic.Imr & 1) == 0 && p.Lapic.PassesExtInt;
        bool pitThroughIoApic = (IoApic.RedirectionEntry(Devices.Apic.IsaIrqRouting.IoApicPin(0)) & Devices.Apic.IoApic.Masked) == 0;
        long pit = pitThroughPic || pitThroughIoApic ? Pit.InstructionsUntilNextEvent() : long.MaxValue;
        return Math.Min(pit, p.Lapic.InstructionsUntilNextEvent());
    }

    /// <summary>No processor can run an instruction now: each is halted with nothing to take, or waits for STARTUP.</summary>
    private bool AllIdle()
    {
        foreach (VirtualCpu p in _processors)
        {
            if (p.PendingStartup != null || p.Cpu.HasPendingNmi)
                return false;
            if (p.WaitingForStartup)
                continue;
            if (!p.Cpu.IsHalted)
                return false;
            if ((p.Cpu.Eflags & MiniHv.Cpu.Cpu.IF) != 0 && p.Lapic.HasPendingInterrupt)
                return false;
        }

        return true;
    }

    private bool AllHaltedForGood()
    {
        foreach (VirtualCpu p in _processors)
        {
            if (!p.WaitingForStartup && !p.HaltedForGood)
                return false;
        }

        return true;
    }
}

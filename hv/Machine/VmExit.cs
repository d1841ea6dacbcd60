namespace MiniHv.Hv.Machine;

/// <summary>Why a guest stopped.</summary>
public enum VmExitKind
{
    /// <summary>The guest wrote to QEMU's isa-debug-exit port; the status is (value &lt;&lt; 1) | 1.</summary>
    DebugExit,

    /// <summary>HLT with nothing that could ever wake it (interrupts off, or no timer and no input to come).</summary>
    HaltedForever,

    /// <summary>A fault while delivering a double fault: the processor shut down.</summary>
    TripleFault,

    /// <summary>The instruction budget ran out.</summary>
    InstructionLimit,

    /// <summary>The host-time limit ran out.</summary>
    TimeLimit,

    /// <summary>The guest needed more machine memory than its cap or the pool allows.</summary>
    OutOfMemory,

    /// <summary>The guest did something this machine does not model.</summary>
    Unsupported,

    /// <summary>Stopped from outside (Ctrl-C, the scheduler).</summary>
    Stopped,

    /// <summary>A defect in MiniHv itself stopped this guest; the others go on.</summary>
    EmulatorError,

    /// <summary>The guest reset the processor (8042 command 0xFE, port 0x92 bit 0): the run ends, as QEMU's -no-reboot ends it.</summary>
    Reset,
}

/// <summary>A guest's final state: why it stopped, with the exit status a QEMU user would expect.</summary>
/// <param name="DebugExitStatus">(v &lt;&lt; 1) | 1 for a debug-exit write of v, else null.</param>
/// <param name="Message">One line for people: what ended the guest.</param>
public sealed record VmExit(VmExitKind Kind, int? DebugExitStatus, string Message)
{
    /// <summary>Short snake_case name for reports and JSON.</summary>
    public string Reason => Kind switch
    {
        VmExitKind.DebugExit => "debug_exit",
        VmExitKind.HaltedForever => "halted",
        VmExitKind.TripleFault => "triple_fault",
        VmExitKind.InstructionLimit => "instruction_limit",
        VmExitKind.TimeLimit => "time_limit",
        VmExitKind.OutOfMemory => "out_of_memory",
        VmExitKind.Unsupported => "unsupported",
        VmExitKind.Stopped => "stopped",
        VmExitKind.Reset => "reset",
        _ => "emulator_error",
    };
}

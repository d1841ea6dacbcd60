namespace MiniHv.Cpu;

/// <summary>Why <see cref="Cpu.Run"/> returned.</summary>
public enum StopReason
{
    /// <summary>The instruction budget given to Run was used up.</summary>
    Budget,

    /// <summary>HLT with nothing to wake it yet; the machine may advance time and call Run again.</summary>
    Halted,

    /// <summary>Someone called <see cref="Cpu.RequestStop"/> (a device, the scheduler, a debugger).</summary>
    StopRequested,

    /// <summary>A fault while delivering a double fault: the processor shuts down.</summary>
    TripleFault,

    /// <summary>The guest did something this core does not model (real mode, a task switch); see <see cref="Cpu.UnsupportedReason"/>.</summary>
    Unsupported,

    /// <summary>A debug trap: a breakpoint, a watchpoint or a single step; see <see cref="Cpu.LastDebugStop"/>.</summary>
    Debug,

    /// <summary>PAUSE ran <see cref="Cpu.PauseLoopLimit"/> times in this run: the processor spins on a lock held elsewhere.</summary>
    PauseLoop,
}

/// <summary>Exception vectors.</summary>
public static class Vectors
{
    public const int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8;
    public const int TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17;

    public static string Name(int vector) => vector switch
    {
        DE => "Divide error",
        DB => "Debug",
        NMI => "Non-Maskable Interrupt",
        BP => "Breakpoint",
        OF => "Overflow",
        BR => "BOUND Range Exceeded",
        UD => "Invalid Opcode",
        NM => "Device Not Available",
        DF => "Double Fault",
        9 => "Coprocessor Segment Overrun",
        TS => "Invalid TSS",
        NP => "Segment Not Present",
        SS => "Stack Fault",
        GP => "General Protection",
        PF => "Page Fault",
        MF => "x87 FPU Floating-Point Error",
        AC => "Alignment Check",
        18 => "Machine-Check",
        19 => "SIMD Floating-Point Exception",
        _ => vector < 32 ? "(reserved)" : "Interrupt",
    };
}

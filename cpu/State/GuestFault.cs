namespace MiniHv.Cpu;

/// <summary>
/// An architectural exception raised while executing an instruction. It unwinds to the
/// execution loop, which delivers it through the IDT. One instance per CPU is reused, so
/// raising it allocates nothing.
/// </summary>
public sealed class GuestFault : Exception
{
    public int Vector { get; internal set; }

    /// <summary>The error code pushed with the exception, or -1 when the vector has none.</summary>
    public int ErrorCode { get; internal set; } = -1;

    public GuestFault()
        : base("guest exception")
    {
    }
}

/// <summary>Record of the last exception the CPU delivered or failed to deliver, for fault logs and dumps.</summary>
/// <param name="External">The event came from outside the program: a hardware interrupt, or a fault while delivering one.</param>
public readonly record struct FaultRecord(int Vector, int ErrorCode, uint Eip, uint Cr2, uint Cr3, int Cpl, bool External)
{
    /// <summary>The event is a hardware interrupt itself, not an exception, whatever its vector.</summary>
    public bool Interrupt { get; init; }

    /// <summary>The processor that took it: its initial APIC ID (0 on a one-processor machine).</summary>
    public int Processor { get; init; }
}

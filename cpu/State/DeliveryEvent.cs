namespace MiniHv.Cpu;

/// <summary>Where an interrupt or exception being delivered came from.</summary>
public enum DeliverySource
{
    /// <summary>An exception the processor raised (a fault, trap or abort, a double fault included).</summary>
    Exception,

    /// <summary>INT n, INT3, INTO or ICEBP: an instruction asked for it.</summary>
    Software,

    /// <summary>An interrupt from the interrupt controller, or an NMI.</summary>
    Hardware,
}

/// <summary>
/// One delivery attempt of an interrupt or exception, seen before the processor changes any state for it (so EIP
/// is the faulting instruction, the next one for a hardware interrupt, the INT instruction's own for a software one).
/// </summary>
/// <param name="ErrorCode">The error code pushed, or -1 when the vector has none.</param>
/// <param name="PreviousVector">The exception whose delivery raised this one (a double fault's cause), or -1.</param>
public readonly record struct DeliveryEvent(int Vector, int ErrorCode, DeliverySource Source, int PreviousVector, uint Eip);

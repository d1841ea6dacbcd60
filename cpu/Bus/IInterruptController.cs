namespace MiniHv.Cpu;

/// <summary>The external interrupt line (INTR) and its acknowledge cycle, as a PIC presents them to the CPU.</summary>
public interface IInterruptController
{
    /// <summary>True while an unmasked interrupt request is waiting to be acknowledged.</summary>
    bool HasPendingInterrupt { get; }

    /// <summary>The INTA cycle: returns the vector to deliver and moves the request in service.</summary>
    byte AcknowledgeInterrupt();
}

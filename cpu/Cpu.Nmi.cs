namespace MiniHv.Cpu;

/// <summary>
/// The NMI input: a non-maskable interrupt is taken at the next instruction boundary whatever EFLAGS.IF says,
/// through vector 2, and further NMIs are held until the handler's IRET (SDM 6.7.1).
/// </summary>
public sealed partial class Cpu
{
    private bool _nmiPending;
    private bool _nmiBlocked;

    /// <summary>An NMI is waiting to be taken.</summary>
    public bool HasPendingNmi => _nmiPending;

    /// <summary>Signal the NMI input (an NMI IPI, for one): it wakes a halted CPU. Another NMI while one waits is the same one.</summary>
    public void RaiseNmi()
    {
        _nmiPending = true;
        AbortBlock = true;
    }

    /// <summary>Deliver the waiting NMI (the caller checked that none is being handled); false when the processor shut down delivering it.</summary>
    private bool TakeNmi()
    {
        _nmiPending = false;
        _nmiBlocked = true;
        Halted = false;
        return RaiseException(Vectors.NMI, -1, external: true);
    }

    /// <summary>IRET ends NMI blocking.</summary>
    private void NmiHandlerReturned() => _nmiBlocked = false;
}

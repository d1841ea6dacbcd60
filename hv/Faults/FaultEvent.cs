using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>One fault of one guest, as the fault log, <c>info faults</c> and the triple-fault dump show it.</summary>
public sealed record FaultEvent
{
    /// <summary>The guest's name (<c>VmConfig.Name</c>).</summary>
    public required string Guest { get; init; }

    /// <summary>The guest's number within the run, to tell apart guests of one name.</summary>
    public required int GuestId { get; init; }

    public required FaultKind Kind { get; init; }

    /// <summary>
    /// The exception vector; for a triple fault, the vector of the fault raised while delivering the double
    /// fault; null for hidden faults, which are no exception.
    /// </summary>
    public int? Vector { get; init; }

    /// <summary>CR2 when the fault was raised: the faulting linear address for #PF, a stale value for other exceptions.</summary>
    public uint Cr2 { get; init; }

    public uint Cr3 { get; init; }

    /// <summary>The faulting instruction's EIP (the instruction did not retire).</summary>
    public uint Eip { get; init; }

    public int Cpl { get; init; }

    /// <summary>The processor that took the fault (0, the boot processor, on a one-processor guest).</summary>
    public int Cpu { get; init; }

    /// <summary>The guest's processors: with more than one, the console line names <see cref="Cpu"/>.</summary>
    public int Processors { get; init; } = 1;

    /// <summary>The error code the exception pushes, or null when its vector pushes none.</summary>
    public int? ErrorCode { get; init; }

    /// <summary>The error code bit by bit when the vector is #PF (a page fault, or the one that ended a triple fault); else null.</summary>
    public PageFaultErrorCode? PageFault => Vector == Vectors.PF && ErrorCode is int code ? new PageFaultErrorCode(code) : null;

    /// <summary>For a #PF: read, write or instruction fetch (inferred when CR2 lies inside the instruction at EIP).</summary>
    public PageFaultAccess? Access { get; init; }

    /// <summary>True when the exception arose while delivering an external interrupt (EXT).</summary>
    public bool External { get; init; }

    /// <summary>For a hidden fault: the guest frame whose backing changed or whose page table was written.</summary>
    public uint? Gfn { get; init; }

    /// <summary>For a hidden fault: the linear address of the access that raised it, when known.</summary>
    public uint? Linear { get; init; }

    /// <summary>The instruction at EIP.</summary>
    public FaultInstruction Instruction { get; init; } = FaultInstruction.None;

    public required FaultHandler HandledBy { get; init; }

    /// <summary>Guest instructions retired when the fault was raised: the event's timestamp on the guest's clock.</summary>
    public long Instructions { get; init; }

    /// <summary>This event is the n-th of its kind in its guest (1 for the first), counting the ones not logged.</summary>
    public long Ordinal { get; init; }
}

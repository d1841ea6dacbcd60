using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>What kind of fault an event records: an exception delivered to the guest, or a hidden fault the hypervisor resolved.</summary>
public enum FaultKind
{
    /// <summary>#PF delivered to the guest.</summary>
    PageFault,

    /// <summary>#GP delivered to the guest.</summary>
    GeneralProtection,

    /// <summary>#UD delivered to the guest.</summary>
    InvalidOpcode,

    /// <summary>#DE delivered to the guest.</summary>
    DivideError,

    /// <summary>Any other exception below vector 32 delivered to the guest; the event keeps its vector.</summary>
    OtherException,

    /// <summary>#DF: an exception while delivering another, delivered to the guest's double-fault handler.</summary>
    DoubleFault,

    /// <summary>A fault while delivering a double fault: the processor shut down and the guest stops.</summary>
    TripleFault,

    /// <summary>Hidden: a write to a guest frame still on the zero frame gave it a private frame.</summary>
    ZeroFrameBreak,

    /// <summary>Hidden: a write to a shared frame gave that guest frame a private copy.</summary>
    CopyOnWriteBreak,

    /// <summary>Hidden: a write to a write-protected guest page table, emulated for the shadow.</summary>
    PageTableWrite,

    /// <summary>Hidden: the hypervisor set an Accessed or Dirty bit in a guest page-table entry.</summary>
    AccessedDirtyUpdate,

    /// <summary>Hidden, and major: an access to a guest frame the hypervisor had swapped out read it back from the swap file.</summary>
    SwapIn,

    /// <summary>Hidden: an access to a guest frame in the guest's balloon, which it had promised not to touch; it now reads zeros.</summary>
    BalloonTouch,
}

/// <summary>Names and classification of <see cref="FaultKind"/>s.</summary>
public static class FaultKinds
{
    /// <summary>Every kind, in declaration order (indexes of per-kind tables).</summary>
    public static IReadOnlyList<FaultKind> All { get; } = Enum.GetValues<FaultKind>();

    /// <summary>Number of kinds, for per-kind arrays.</summary>
    public static int Count => All.Count;

    /// <summary>True for the hidden faults that waited for the disk (Linux's major faults): swap-ins.</summary>
    public static bool IsMajor(FaultKind kind) => kind == FaultKind.SwapIn;

    /// <summary>True for the kinds the hypervisor raises and resolves without the guest ever seeing them.</summary>
    public static bool IsHidden(FaultKind kind) => kind >= FaultKind.ZeroFrameBreak;

    /// <summary>The kind of a guest exception with this vector (below 32); null for interrupts and system calls.</summary>
    public static FaultKind? FromVector(int vector) => vector switch
    {
        Vectors.PF => FaultKind.PageFault,
        Vectors.GP => FaultKind.GeneralProtection,
        Vectors.UD => FaultKind.InvalidOpcode,
        Vectors.DE => FaultKind.DivideError,
        Vectors.DF => FaultKind.DoubleFault,
        >= 0 and < 32 => FaultKind.OtherException,
        _ => null,
    };

    /// <summary>Short snake_case name for JSON and reports: "page_fault", "cow_break", ...</summary>
    public static string Id(FaultKind kind) => kind switch
    {
        FaultKind.PageFault => "page_fault",
        FaultKind.GeneralProtection => "general_protection",
        FaultKind.InvalidOpcode => "invalid_opcode",
        FaultKind.DivideError => "divide_error",
        FaultKind.OtherException => "exception",
        FaultKind.DoubleFault => "double_fault",
        FaultKind.TripleFault => "triple_fault",
        FaultKind.ZeroFrameBreak => "zero_frame_break",
        FaultKind.CopyOnWriteBreak => "cow_break",
        FaultKind.PageTableWrite => "page_table_write",
        FaultKind.AccessedDirtyUpdate => "ad_update",
        FaultKind.SwapIn => "swap_in",
        FaultKind.BalloonTouch => "balloon_touch",
        _ => "unknown",
    };

    /// <summary>The kind for an <see cref="Id"/>, for command-line options; false when there is none.</summary>
    public static bool TryParseId(string id, out FaultKind kind)
    {
        foreach (FaultKind k in All)
        {
            if (string.Equals(Id(k), id, StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        }

        kind = default;
        return false;
    }

    /// <summary>
    /// What a person reads at the head of a log line: the Intel mnemonic of a guest exception ("#PF", "#NM"),
    /// or the name of a hidden fault ("cow break").
    /// </summary>
    public static string Mnemonic(FaultKind kind, int? vector) => kind switch
    {
        FaultKind.TripleFault => "triple fault",
        FaultKind.ZeroFrameBreak => "zero-frame break",
        FaultKind.CopyOnWriteBreak => "cow break",
        FaultKind.PageTableWrite => "page-table write",
        FaultKind.AccessedDirtyUpdate => "A/D update",
        FaultKind.SwapIn => "swap-in",
        FaultKind.BalloonTouch => "balloon touch",
        _ => vector is int v ? VectorMnemonic(v) : "#??",
    };

    /// <summary>The Intel manual's mnemonic for an exception vector: "#PF", "NMI"; "#21" where it names none.</summary>
    public static string VectorMnemonic(int vector) => vector switch
    {
        Vectors.DE => "#DE",
        Vectors.DB => "#DB",
        Vectors.NMI => "NMI",
        Vectors.BP => "#BP",
        Vectors.OF => "#OF",
        Vectors.BR => "#BR",
        Vectors.UD => "#UD",
        Vectors.NM => "#NM",
        Vectors.DF => "#DF",
        Vectors.TS => "#TS",
        Vectors.NP => "#NP",
        Vectors.SS => "#SS",
        Vectors.GP => "#GP",
        Vectors.PF => "#PF",
        Vectors.MF => "#MF",
        Vectors.AC => "#AC",
        18 => "#MC",
        19 => "#XM",
        20 => "#VE",
        21 => "#CP",
        _ => $"#{vector}",
    };
}

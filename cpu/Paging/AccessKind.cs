namespace MiniHv.Cpu;

/// <summary>How a linear access is checked against the page tables.</summary>
[Flags]
public enum AccessKind
{
    Read = 0,
    Write = 1,

    /// <summary>A CPL 3 access; implicit supervisor accesses (descriptor tables, TSS) never set it.</summary>
    User = 4,

    /// <summary>An instruction fetch: a read, which an execute-disable (NX) page refuses and whose #PF sets the I/D bit.</summary>
    Fetch = 8,
}

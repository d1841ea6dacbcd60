namespace MiniHv.Hv.Faults;

/// <summary>What kind of access a page fault was.</summary>
public enum PageFaultAccess
{
    Read,
    Write,

    /// <summary>An instruction fetch: the error code's I/D bit, or the faulting address lies inside the faulting instruction.</summary>
    Fetch,
}

/// <summary>A #PF error code, bit by bit (Intel SDM vol. 3, "Interrupt 14—Page-Fault Exception").</summary>
/// <param name="Value">The raw error code.</param>
public readonly record struct PageFaultErrorCode(int Value)
{
    public const int PresentBit = 1, WriteBit = 2, UserBit = 4, ReservedBit = 8, FetchBit = 16;

    /// <summary>P: the page was present and the access broke its protection; clear when it was not present.</summary>
    public bool Protection => (Value & PresentBit) != 0;

    /// <summary>W/R: the access was a write.</summary>
    public bool Write => (Value & WriteBit) != 0;

    /// <summary>U/S: the access came from user mode (CPL 3).</summary>
    public bool User => (Value & UserBit) != 0;

    /// <summary>RSVD: a reserved bit was set in a paging entry.</summary>
    public bool Reserved => (Value & ReservedBit) != 0;

    /// <summary>I/D: the access was an instruction fetch (set only with NX paging, which a 386 lacks).</summary>
    public bool Fetch => (Value & FetchBit) != 0;

    /// <summary>The flags in parentheses of a log line: "user, not-present", "supervisor, protection, reserved bit".</summary>
    public string Describe()
    {
        string text = (User ? "user" : "supervisor") + (Protection ? ", protection" : ", not-present");
        if (Reserved)
            text += ", reserved bit";
        if (Fetch)
            text += ", instruction fetch";
        return text;
    }
}

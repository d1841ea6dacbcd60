namespace MiniHv.Hv.Inspection;

/// <summary>What holds a guest frame's contents in machine memory.</summary>
public enum FrameBacking
{
    /// <summary>A machine frame of its own, which the guest writes in place.</summary>
    Private,

    /// <summary>Still on the shared zero frame: never written, costs nothing.</summary>
    Zero,

    /// <summary>A read-only machine frame merged with identical frames; a write breaks it.</summary>
    Shared,

    /// <summary>On no machine frame: its contents wait in the hypervisor's swap file until the guest touches it.</summary>
    Swapped,

    /// <summary>On no machine frame and holding nothing: the guest's balloon driver gave it to the hypervisor.</summary>
    Ballooned,

    /// <summary>Not RAM: beyond the guest's memory, where reads give zeros.</summary>
    NotRam,
}

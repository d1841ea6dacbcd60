namespace MiniHv.Hv.Faults;

/// <summary>Who dealt with a fault.</summary>
public enum FaultHandler
{
    /// <summary>Delivered through the guest's IDT to the guest kernel's handler.</summary>
    Guest,

    /// <summary>Resolved by the hypervisor without the guest seeing it, or (triple fault) ended the guest.</summary>
    Hypervisor,
}

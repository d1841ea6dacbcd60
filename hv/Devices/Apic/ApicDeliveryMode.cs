namespace MiniHv.Hv.Devices.Apic;

/// <summary>The delivery mode field (bits 8-10) of an LVT entry, the ICR and an I/O APIC redirection entry.</summary>
public enum ApicDeliveryMode
{
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Nmi = 4,
    Init = 5,
    Startup = 6,
    ExtInt = 7,
}

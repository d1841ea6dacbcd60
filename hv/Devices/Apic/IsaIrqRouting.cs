namespace MiniHv.Hv.Devices.Apic;

/// <summary>Which I/O APIC input pin each ISA IRQ is wired to: the map the I/O APIC routes by and the MP table publishes.</summary>
/// <remarks>
/// As on most PCs, IRQ n goes to pin n, except that the 8254's IRQ 0 goes to pin 2 (pin 0 is the
/// 8259's INTR on a real board, not modelled here) and IRQ 2, the cascade, is the AT bus line that
/// reaches IRQ 9 (as <see cref="Pic8259Pair"/> redirects it), so it goes to pin 9. Kernels that ignore
/// the MP table's interrupt entries and assume pin = IRQ (xv6) find UART, IDE and keyboard where they look.
/// </remarks>
public static class IsaIrqRouting
{
    public const int IsaIrqCount = 16;

    /// <summary>The I/O APIC pin of ISA IRQ <paramref name="irq"/> (0-15).</summary>
    public static int IoApicPin(int irq) => irq switch
    {
        0 => 2,
        2 => 9,
        _ => irq,
    };

    /// <summary>True for the IRQs the MP table lists: all but IRQ 2, which no device raises as itself.</summary>
    public static bool IsListed(int irq) => irq != 2;
}

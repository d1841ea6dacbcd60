namespace MiniHv.Hv.Devices;

/// <summary>The ISA interrupt request lines IRQ 0-15 as devices drive them.</summary>
public interface IIrqLines
{
    /// <summary>Drives the line high; an edge-triggered controller latches a request on the low-to-high edge.</summary>
    void RaiseIrq(int irq);

    /// <summary>Drives the line low.</summary>
    void LowerIrq(int irq);
}

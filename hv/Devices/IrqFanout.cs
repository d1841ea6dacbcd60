namespace MiniHv.Hv.Devices;

/// <summary>ISA interrupt lines wired to several interrupt controllers at once, as a PC wires each IRQ to both the 8259 pair and the I/O APIC.</summary>
/// <remarks>
/// A kernel that programs the PICs and one that programs the I/O APIC then both see the devices'
/// interrupts; each masks the controller it does not use. The controllers get every raise and lower
/// in the order given, so each does its own edge detection.
/// </remarks>
public sealed class IrqFanout : IIrqLines
{
    private readonly IIrqLines[] _targets;

    /// <param name="targets">The controllers each line drives, typically the <see cref="Pic8259Pair"/> and the I/O APIC.</param>
    public IrqFanout(params IIrqLines[] targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        foreach (IIrqLines target in targets)
            ArgumentNullException.ThrowIfNull(target, nameof(targets));
        _targets = (IIrqLines[])targets.Clone();
    }

    public void RaiseIrq(int irq)
    {
        foreach (IIrqLines target in _targets)
            target.RaiseIrq(irq);
    }

    public void LowerIrq(int irq)
    {
        foreach (IIrqLines target in _targets)
            target.LowerIrq(irq);
    }
}

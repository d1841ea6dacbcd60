namespace MiniHv.Hv.Devices;

/// <summary>
/// How a PC wires the x87's FERR# for software written for CR0.NE=0 (DOS-compatible error reporting): the
/// error raises IRQ 13 through the interrupt controllers, and the handler's write of any value to port
/// 0xF0 clears the latch, dropping the line (on the AT it also released the coprocessor's BUSY#).
/// </summary>
public sealed class FpuErrorLatch : IPortDevice
{
    public const ushort Port = 0xF0;
    public const int Irq = 13;

    private readonly IIrqLines _irqs;

    public FpuErrorLatch(IIrqLines irqs) => _irqs = irqs;

    /// <summary>Whether IRQ 13 is being driven (an error since the last write to port 0xF0).</summary>
    public bool Asserted { get; private set; }

    public void Attach(IoBus bus) => bus.Register(Port, 1, this, PortWidths.Byte);

    /// <summary>FERR# went active: the CPU reported an unmasked x87 exception with CR0.NE clear.</summary>
    public void Signal()
    {
        Asserted = true;
        _irqs.RaiseIrq(Irq);
    }

    public uint ReadPort(ushort port, int size) => 0xFF;

    public void WritePort(ushort port, int size, uint value)
    {
        Asserted = false;
        _irqs.LowerIrq(Irq);
    }
}

namespace MiniHv.Hv.Devices;

/// <summary>System control port A at 0x92 ("fast A20"): bit 1 opens the A20 gate, a 1 written to bit 0 resets the CPU.</summary>
/// <remarks>
/// Bits 2-7 (the security lock and the disk activity lights) read back as written; bit 0 reads 0 since
/// the reset it asks for is immediate. The gate is shared with the 8042's output port.
/// </remarks>
public sealed class SystemControlPortA : IPortDevice
{
    public const ushort Port = 0x92;

    private const byte FastReset = 0x01;
    private const byte A20Bit = 0x02;

    private readonly A20Gate _a20;
    private readonly Action? _resetRequested;
    private byte _bits;

    /// <param name="a20">The A20 gate, the same one the <see cref="Keyboard8042"/> drives.</param>
    /// <param name="resetRequested">Called when the guest sets bit 0, on the VM's thread.</param>
    public SystemControlPortA(A20Gate a20, Action? resetRequested = null)
    {
        ArgumentNullException.ThrowIfNull(a20);
        _a20 = a20;
        _resetRequested = resetRequested;
    }

    /// <summary>CPU resets the guest asked for through this port.</summary>
    public int ResetRequests { get; private set; }

    /// <summary>Claims 0x92.</summary>
    public void Attach(IoBus bus) => bus.Register(Port, 1, this);

    public uint ReadPort(ushort port, int size) => (uint)(_bits | (_a20.Enabled ? A20Bit : 0));

    public void WritePort(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        _bits = (byte)(b & 0xFC);
        _a20.Set((b & A20Bit) != 0);
        if ((b & FastReset) != 0)
        {
            ResetRequests++;
            _resetRequested?.Invoke();
        }
    }
}

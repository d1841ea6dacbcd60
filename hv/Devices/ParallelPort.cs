namespace MiniHv.Hv.Devices;

/// <summary>A parallel port (LPT1 by default: 0x378-0x37A) with a printer that is always ready.</summary>
/// <remarks>
/// <code>
/// +0  data     R/W  the byte on the data lines
/// +1  status   R    0xDF: not busy (7), no acknowledge pulse (6), paper present (5 clear), selected (4),
///                   no error (3), bits 2-0 unused and high
/// +2  control  R/W  strobe (0), auto line feed (1), not initialise (2), select (3), IRQ enable (4),
///                   direction (5); bits 7-6 read as 1
/// </code>
/// A byte is printed on the falling edge of the strobe bit, the way a polled driver (JOS's lpt_putc)
/// pulses it. No interrupt is raised.
/// </remarks>
public sealed class ParallelPort : IPortDevice
{
    public const ushort Lpt1Port = 0x378;

    /// <summary>What the status port reads: a printer that is ready and never busy.</summary>
    public const byte ReadyStatus = 0xDF;

    private const byte Strobe = 0x01;

    private readonly Action<byte>? _output;
    private byte _data;
    private byte _control = 0x0C; // not initialising, selected: as a BIOS leaves it

    /// <param name="output">Receives each byte the guest strobes out, or null to drop them.</param>
    public ParallelPort(Action<byte>? output = null, ushort basePort = Lpt1Port)
    {
        _output = output;
        BasePort = basePort;
    }

    public ushort BasePort { get; }

    /// <summary>Claims the three ports from <see cref="BasePort"/>.</summary>
    public void Attach(IoBus bus) => bus.Register(BasePort, 3, this);

    public uint ReadPort(ushort port, int size) => (port - BasePort) switch
    {
        0 => _data,
        1 => ReadyStatus,
        _ => (uint)(_control | 0xC0),
    };

    public void WritePort(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        switch (port - BasePort)
        {
            case 0:
                _data = b;
                break;
            case 2:
                bool strobeEnds = (_control & Strobe) != 0 && (b & Strobe) == 0;
                _control = (byte)(b & 0x3F);
                if (strobeEnds)
                    _output?.Invoke(_data);
                break;
            // The status port is read-only.
        }
    }
}

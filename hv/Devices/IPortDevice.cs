namespace MiniHv.Hv.Devices;

/// <summary>A device that answers I/O port reads and writes for the ports it registered on an <see cref="IoBus"/>.</summary>
public interface IPortDevice
{
    /// <summary>Reads <paramref name="size"/> bytes (1, 2 or 4, only the widths it registered) at <paramref name="port"/>.</summary>
    uint ReadPort(ushort port, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="port"/>.</summary>
    void WritePort(ushort port, int size, uint value);
}

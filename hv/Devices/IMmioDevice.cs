namespace MiniHv.Hv.Devices;

/// <summary>A device that answers physical memory reads and writes in one window of the address space, registered on an <see cref="MmioBus"/>.</summary>
/// <remarks>
/// The bus only hands a device accesses of 1, 2 or 4 bytes that lie wholly inside its window; it splits
/// the rest. What a narrow or misaligned access inside the window does is the device's choice and is
/// documented on the device (real chips leave most of it undefined). A device never throws for anything
/// a guest can put in an access.
/// </remarks>
public interface IMmioDevice
{
    /// <summary>The guest physical address of the window's first byte.</summary>
    uint MmioBase { get; }

    /// <summary>The window's length in bytes; the window must not wrap past 4 GiB.</summary>
    uint MmioSize { get; }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="offset"/> from <see cref="MmioBase"/>, little-endian in the low bits.</summary>
    uint ReadMmio(uint offset, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> at <paramref name="offset"/> from <see cref="MmioBase"/>.</summary>
    void WriteMmio(uint offset, int size, uint value);
}

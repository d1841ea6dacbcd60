namespace MiniHv.Hv.Devices;

/// <summary>The memory-mapped devices of one machine: routes a guest physical access to the device whose window holds it.</summary>
/// <remarks>
/// A PC has a handful of such windows (the local APIC, the I/O APIC), so the devices sit in an array
/// sorted by base address and a lookup scans it. An access that lies wholly in one window goes to that
/// device whole; one that straddles a window's edge is split into single bytes, each routed on its own,
/// as <see cref="IoBus"/> does for ports. Unclaimed bytes read as all ones and swallow writes, and the
/// first touch of each unclaimed 4 KiB page is reported once. Nothing a guest passes makes it throw.
/// </remarks>
public sealed class MmioBus
{
    private const int PageShift = 12;

    private IMmioDevice[] _devices = [];
    private readonly HashSet<uint> _reportedPages = [];
    private readonly Action<string>? _reportUnclaimed;

    /// <param name="reportUnclaimed">Told once per 4 KiB page, in one line, the first time a guest touches unclaimed space through this bus.</param>
    public MmioBus(Action<string>? reportUnclaimed = null)
    {
        _reportUnclaimed = reportUnclaimed;
    }

    /// <summary>The registered devices, by ascending base address.</summary>
    public IReadOnlyList<IMmioDevice> Devices => _devices;

    /// <summary>How many distinct unclaimed 4 KiB pages the guest has touched through this bus.</summary>
    public int UnclaimedPagesTouched => _reportedPages.Count;

    /// <summary>Adds <paramref name="device"/>'s window; it must not overlap a window already registered.</summary>
    public void Register(IMmioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ulong start = device.MmioBase;
        ulong end = start + device.MmioSize;
        if (device.MmioSize == 0 || end > 1UL << 32)
            throw new ArgumentOutOfRangeException(nameof(device), $"MMIO window 0x{start:X8}+0x{device.MmioSize:X} is empty or wraps past 4 GiB");
        foreach (IMmioDevice other in _devices)
        {
            if (start < (ulong)other.MmioBase + other.MmioSize && other.MmioBase < end)
                throw new InvalidOperationException($"MMIO window 0x{start:X8}+0x{device.MmioSize:X} overlaps {other.GetType().Name} at 0x{other.MmioBase:X8}");
        }

        var devices = new IMmioDevice[_devices.Length + 1];
        _devices.CopyTo(devices, 0);
        devices[^1] = device;
        Array.Sort(devices, static (a, b) => a.MmioBase.CompareTo(b.MmioBase));
        _devices = devices;
    }

    /// <summary>True when some device's window holds <paramref name="address"/>.</summary>
    public bool IsClaimed(uint address) => DeviceAt(address) is not null;

    /// <summary>The device whose window holds <paramref name="address"/>, or null.</summary>
    public IMmioDevice? DeviceAt(uint address)
    {
        foreach (IMmioDevice device in _devices)
        {
            if (address - device.MmioBase < device.MmioSize)
                return device;
        }
        return null;
    }

    /// <summary>Reads <paramref name="size"/> bytes (1-4) at <paramref name="address"/>; other sizes read as all ones.</summary>
    public uint Read(uint address, int size)
    {
        if ((uint)(size - 1) > 3)
            return 0xFFFF_FFFFu;
        IMmioDevice? device = DeviceAt(address);
        if (device is not null && size != 3 && Holds(device, address, size))
            return device.ReadMmio(address - device.MmioBase, size) & Mask(size);

        uint value = 0;
        for (int i = 0; i < size; i++)
            value |= ReadByte(unchecked(address + (uint)i)) << (8 * i);
        return value;
    }

    /// <summary>Writes the low <paramref name="size"/> bytes (1-4) of <paramref name="value"/> at <paramref name="address"/>; other sizes are dropped.</summary>
    public void Write(uint address, int size, uint value)
    {
        if ((uint)(size - 1) > 3)
            return;
        IMmioDevice? device = DeviceAt(address);
        if (device is not null && size != 3 && Holds(device, address, size))
        {
            device.WriteMmio(address - device.MmioBase, size, value & Mask(size));
            return;
        }

        for (int i = 0; i < size; i++)
            WriteByte(unchecked(address + (uint)i), (byte)(value >> (8 * i)));
    }

    // The whole access lies inside the window (the offset is known to be inside it).
    private static bool Holds(IMmioDevice device, uint address, int size) =>
        (ulong)(address - device.MmioBase) + (uint)size <= device.MmioSize;

    private static uint Mask(int size) => size == 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;

    private uint ReadByte(uint address)
    {
        IMmioDevice? device = DeviceAt(address);
        if (device is not null)
            return device.ReadMmio(address - device.MmioBase, 1) & 0xFF;
        ReportOnce(address, isWrite: false, 0);
        return 0xFF;
    }

    private void WriteByte(uint address, byte value)
    {
        IMmioDevice? device = DeviceAt(address);
        if (device is not null)
            device.WriteMmio(address - device.MmioBase, 1, value);
        else
            ReportOnce(address, isWrite: true, value);
    }

    private void ReportOnce(uint address, bool isWrite, byte value)
    {
        if (!_reportedPages.Add(address >> PageShift))
            return;
        _reportUnclaimed?.Invoke(isWrite
            ? $"unclaimed MMIO address 0x{address:X8}: first access to its page is a write of 0x{value:X2}; writes are ignored"
            : $"unclaimed MMIO address 0x{address:X8}: first access to its page is a read; reads return all ones");
    }
}

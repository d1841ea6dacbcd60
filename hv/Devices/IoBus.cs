using System.Runtime.CompilerServices;
using MiniHv.Cpu;

namespace MiniHv.Hv.Devices;

/// <summary>The PC's 64 Ki port I/O space: a per-port dispatch table that splits wide accesses as ISA does.</summary>
/// <remarks>
/// A 16- or 32-bit access goes to the device whole only when the device registered that width
/// and owns every byte it covers; otherwise it becomes two 16-bit or single-byte accesses, each
/// routed on its own, so an <c>out dx, ax</c> to an index/data pair reaches both registers.
/// Unclaimed bytes read as all ones and swallow writes; the first access to each is reported once.
/// </remarks>
public sealed class IoBus : IIoBus
{
    private const int PortCount = 0x10000;

    private readonly IPortDevice?[] _devices = new IPortDevice?[PortCount];

    // Widths the device at each port takes whole; Word/Dword only where the device owns the following bytes too.
    private readonly PortWidths[] _widths = new PortWidths[PortCount];

    private readonly ulong[] _reported = new ulong[PortCount / 64];
    private readonly Action<string>? _reportUnclaimed;

    /// <param name="reportUnclaimed">Told once per port, in one line, the first time a guest touches an unclaimed port.</param>
    public IoBus(Action<string>? reportUnclaimed = null)
    {
        _reportUnclaimed = reportUnclaimed;
    }

    /// <summary>How many distinct unclaimed ports the guest has touched.</summary>
    public int UnclaimedPortsTouched { get; private set; }

    /// <summary>
    /// Claims <paramref name="count"/> ports from <paramref name="firstPort"/> for <paramref name="device"/>.
    /// Byte access is always decoded; <paramref name="widths"/> adds the wider accesses the device takes whole.
    /// </summary>
    public void Register(ushort firstPort, int count, IPortDevice device, PortWidths widths = PortWidths.Byte)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (count < 1 || firstPort + count > PortCount)
            throw new ArgumentOutOfRangeException(nameof(count), $"ports 0x{firstPort:X4}+{count} do not fit the I/O space");
        for (int p = firstPort; p < firstPort + count; p++)
        {
            if (_devices[p] is { } owner)
                throw new InvalidOperationException($"I/O port 0x{p:X4} is already claimed by {owner.GetType().Name}");
        }

        int end = firstPort + count;
        for (int p = firstPort; p < end; p++)
        {
            PortWidths w = PortWidths.Byte;
            if ((widths & PortWidths.Word) != 0 && p + 2 <= end)
                w |= PortWidths.Word;
            if ((widths & PortWidths.Dword) != 0 && p + 4 <= end)
                w |= PortWidths.Dword;
            _devices[p] = device;
            _widths[p] = w;
        }
    }

    /// <summary>True when some device has claimed <paramref name="port"/>.</summary>
    public bool IsClaimed(ushort port) => _devices[port] is not null;

    public uint In(ushort port, int size)
    {
        IPortDevice? device = _devices[port];
        if (device is not null && ((int)_widths[port] & size) != 0)
            return device.ReadPort(port, size) & Mask(size);
        return InSplit(port, size);
    }

    public void Out(ushort port, int size, uint value)
    {
        IPortDevice? device = _devices[port];
        if (device is not null && ((int)_widths[port] & size) != 0)
        {
            device.WritePort(port, size, value & Mask(size));
            return;
        }
        OutSplit(port, size, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mask(int size) => size switch
    {
        1 => 0xFFu,
        2 => 0xFFFFu,
        _ => 0xFFFF_FFFFu,
    };

    private uint InSplit(ushort port, int size)
    {
        if (size == 1 || AllUnclaimed(port, size))
        {
            ReportOnce(port, size, isWrite: false, 0);
            return Mask(size);
        }
        if (size == 2)
            return In(port, 1) | In((ushort)(port + 1), 1) << 8;
        return In(port, 2) | In((ushort)(port + 2), 2) << 16;
    }

    private void OutSplit(ushort port, int size, uint value)
    {
        if (size == 1 || AllUnclaimed(port, size))
        {
            ReportOnce(port, size, isWrite: true, value & Mask(size));
            return;
        }
        if (size == 2)
        {
            Out(port, 1, value & 0xFF);
            Out((ushort)(port + 1), 1, (value >> 8) & 0xFF);
            return;
        }
        Out(port, 2, value & 0xFFFF);
        Out((ushort)(port + 2), 2, value >> 16);
    }

    private bool AllUnclaimed(ushort port, int size)
    {
        for (int i = 0; i < size; i++)
        {
            if (_devices[(ushort)(port + i)] is not null)
                return false;
        }
        return true;
    }

    private void ReportOnce(ushort port, int size, bool isWrite, uint value)
    {
        ref ulong word = ref _reported[port >> 6];
        ulong bit = 1UL << (port & 63);
        if ((word & bit) != 0)
            return;
        word |= bit;
        UnclaimedPortsTouched++;
        _reportUnclaimed?.Invoke(isWrite
            ? $"unclaimed I/O port 0x{port:X4}: first access is a {size}-byte write of 0x{value:X}; writes are ignored"
            : $"unclaimed I/O port 0x{port:X4}: first access is a {size}-byte read; reads return all ones");
    }
}

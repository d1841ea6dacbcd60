using System.Collections;
using MiniHv.Hv.Devices;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Overcommit;

/// <summary>
/// A guest's memory balloon, as I/O ports: the host sets a target in pages, the guest's balloon driver gives
/// frames (inflate) or takes them back (deflate) one frame number at a time, and the device keeps the size.
/// Modelled on what virtio-balloon offers (num_pages, actual, the inflate and deflate queues), without the
/// virtqueues: five 32-bit registers from <see cref="BasePort"/> (guests/README.md lists them).
/// </summary>
/// <remarks>
/// An inflated frame goes back to the machine pool at once (<see cref="GuestPhysicalMemory.Balloon"/>): the
/// guest promised not to touch it. A deflated one comes back lazily, on the zero frame. Frame numbers that are
/// not RAM, inflated twice or deflated without being in the balloon are refused and counted, and change
/// nothing. The registers are read and written on the guest's thread; <see cref="Target"/> is set by the
/// reclaimer from any thread, and the guest reads it at its next timer tick.
/// </remarks>
public sealed class BalloonDevice : IPortDevice
{
    /// <summary>The first port: the signature register. Free on QEMU's pc machine (its fw_cfg is at 0x510).</summary>
    public const ushort BasePort = 0x5B0;

    public const ushort SignaturePort = BasePort;
    public const ushort TargetPort = BasePort + 4;
    public const ushort SizePort = BasePort + 8;
    public const ushort InflatePort = BasePort + 12;
    public const ushort DeflatePort = BasePort + 16;
    public const int PortCount = 20;

    /// <summary>What the signature register reads: "BALN" in little-endian bytes. An absent device reads all ones.</summary>
    public const uint Signature = 0x4E4C_4142;

    private readonly GuestPhysicalMemory _memory;
    private readonly BitArray _inBalloon;
    private readonly BitArray _everInflated;
    private long _target;
    private long _size;

    public BalloonDevice(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _inBalloon = new BitArray((int)memory.FrameCount);
        _everInflated = new BitArray((int)memory.FrameCount);
    }

    /// <summary>Claims the registers on <paramref name="bus"/>.</summary>
    public void Attach(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(BasePort, PortCount, this, PortWidths.Dword);
    }

    /// <summary>The pages the host asks the balloon to hold (virtio-balloon's num_pages). Never more than the guest's RAM.</summary>
    public long Target
    {
        get => Volatile.Read(ref _target);
        set => Volatile.Write(ref _target, Math.Clamp(value, 0, _memory.FrameCount));
    }

    /// <summary>The pages the balloon holds, as the guest reported them (virtio-balloon's actual).</summary>
    public long Size => Volatile.Read(ref _size);

    /// <summary>Frames the guest gave.</summary>
    public long Inflates { get; private set; }

    /// <summary>Frames the guest took back.</summary>
    public long Deflates { get; private set; }

    /// <summary>Inflates that gave a machine frame back to the pool (the others were on the zero frame or in swap, or shared).</summary>
    public long FramesReturned { get; private set; }

    /// <summary>Frame numbers refused: not RAM, inflated twice, or deflated while not in the balloon.</summary>
    public long Refused { get; private set; }

    /// <summary>True when <paramref name="gfn"/> is in the balloon now.</summary>
    public bool Holds(uint gfn) => gfn < _inBalloon.Length && _inBalloon[(int)gfn];

    /// <summary>True when <paramref name="gfn"/> was in the balloon at some time: its contents may read zeros where they did not before.</summary>
    public bool WasInflated(uint gfn) => gfn < _everInflated.Length && _everInflated[(int)gfn];

    public uint ReadPort(ushort port, int size)
    {
        if (size != 4)
            return 0xFFFF_FFFFu;
        return port switch
        {
            SignaturePort => Signature,
            TargetPort => (uint)Target,
            SizePort => (uint)Size,
            _ => 0xFFFF_FFFFu,
        };
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (size != 4)
            return;
        if (port == InflatePort)
            Inflate(value);
        else if (port == DeflatePort)
            Deflate(value);
    }

    private void Inflate(uint gfn)
    {
        if (gfn >= _inBalloon.Length || _inBalloon[(int)gfn])
        {
            Refused++;
            return;
        }

        P2m p2m = _memory.P2m;
        bool frees = !p2m.IsZeroMapped(gfn) && !p2m.IsSwapped(gfn) && !p2m.IsBallooned(gfn)
            && (p2m.IsWritable(gfn) || _memory.Machine.RefCount(p2m.GetMfn(gfn)) == 1);
        _memory.Balloon(gfn);
        _inBalloon[(int)gfn] = true;
        _everInflated[(int)gfn] = true;
        Inflates++;
        if (frees)
            FramesReturned++;
        Volatile.Write(ref _size, _size + 1);
    }

    private void Deflate(uint gfn)
    {
        if (gfn >= _inBalloon.Length || !_inBalloon[(int)gfn])
        {
            Refused++;
            return;
        }

        // Touched while in the balloon, it is on the zero frame (or a frame of its own) already: nothing to undo.
        _memory.Unballoon(gfn);
        _inBalloon[(int)gfn] = false;
        Deflates++;
        Volatile.Write(ref _size, _size - 1);
    }
}

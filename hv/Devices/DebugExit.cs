namespace MiniHv.Hv.Devices;

/// <summary>QEMU's isa-debug-exit device: a write of v to its ports asks the VM to stop with exit status (v &lt;&lt; 1) | 1.</summary>
/// <remarks>
/// Mirrors <c>-device isa-debug-exit,iobase=0xf4,iosize=0x04</c>: any write of 1, 2 or 4 bytes anywhere in
/// the four ports counts, and the status can never be 0, so a test kernel's exit is told apart from a clean
/// QEMU shutdown. The first write wins; the machine is expected to stop the CPU from the callback.
/// </remarks>
public sealed class DebugExit : IPortDevice
{
    public const ushort DefaultPort = 0xF4;
    public const int PortCount = 4;

    private readonly Action<int>? _onExit;

    /// <param name="onExit">Called with the exit status on the guest's first write, on the VM's thread.</param>
    public DebugExit(Action<int>? onExit = null, ushort port = DefaultPort)
    {
        _onExit = onExit;
        Port = port;
    }

    public ushort Port { get; }

    /// <summary>(v &lt;&lt; 1) | 1 for the first value v written, or null while the guest has not asked to exit.</summary>
    public int? ExitStatus { get; private set; }

    /// <summary>Claims <see cref="PortCount"/> ports from <see cref="Port"/>, taking 16- and 32-bit writes whole.</summary>
    public void Attach(IoBus bus) => bus.Register(Port, PortCount, this, PortWidths.All);

    public uint ReadPort(ushort port, int size) => 0xFFFF_FFFFu; // write-only

    public void WritePort(ushort port, int size, uint value)
    {
        if (ExitStatus is not null)
            return;
        int status = unchecked((int)(value << 1 | 1));
        ExitStatus = status;
        _onExit?.Invoke(status);
    }
}

using MiniHv.Cpu;

namespace MiniHv.Cli.Bench;

/// <summary>An I/O space with nothing in it, for benchmarks that run a bare CPU.</summary>
internal sealed class NoPorts : IIoBus
{
    public uint In(ushort port, int size) => 0xFFFF_FFFF;

    public void Out(ushort port, int size, uint value)
    {
    }
}

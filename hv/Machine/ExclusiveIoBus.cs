using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// The guest's I/O ports as one processor's thread reaches them when the processors run on threads of their own:
/// every IN and OUT runs in the guest's exclusive section, so the devices keep their one-at-a-time code. Taking
/// turns on one thread, it passes straight through.
/// </summary>
internal sealed class ExclusiveIoBus(Vm vm, IIoBus inner) : IIoBus
{
    /// <summary>The processor whose thread calls (set once the processor exists).</summary>
    public VirtualCpu Processor { get; set; } = null!;

    public uint In(ushort port, int size)
    {
        using var section = new ExclusiveScope(vm, Processor);
        return inner.In(port, size);
    }

    public void Out(ushort port, int size, uint value)
    {
        using var section = new ExclusiveScope(vm, Processor);
        inner.Out(port, size, value);
    }
}

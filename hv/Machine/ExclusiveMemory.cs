using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// The guest's physical memory as one processor's thread calls it when the processors run on threads of their own:
/// a frame looked up (a first touch, a copy-on-write or zero-frame break, a swap-in) or a device reached runs in the
/// guest's exclusive section. Taking turns on one thread, it passes straight through.
/// </summary>
internal sealed unsafe class ExclusiveMemory(Vm vm, IPhysicalMemory inner) : IPhysicalMemory
{
    /// <summary>The processor whose thread calls (set once the processor exists).</summary>
    public VirtualCpu Processor { get; set; } = null!;

    public byte* FrameForRead(uint gfn)
    {
        using var section = new ExclusiveScope(vm, Processor);
        return inner.FrameForRead(gfn);
    }

    public byte* FrameForWrite(uint gfn)
    {
        using var section = new ExclusiveScope(vm, Processor);
        return inner.FrameForWrite(gfn);
    }

    public uint ReadUnbacked(uint physicalAddress, int size)
    {
        // Its own local APIC (an ID read, a timer polled in a delay loop) needs no other processor stopped.
        if (vm.ThreadedRound && LocalApicWindow.TryReadOwn(Processor.Lapic, Processor.Clock, physicalAddress, size, out uint value))
            return value;
        using var section = new ExclusiveScope(vm, Processor);
        return inner.ReadUnbacked(physicalAddress, size);
    }

    public void WriteUnbacked(uint physicalAddress, int size, uint value)
    {
        using var section = new ExclusiveScope(vm, Processor);
        inner.WriteUnbacked(physicalAddress, size, value);
    }
}

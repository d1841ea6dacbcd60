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
        if (!vm.ThreadedRound)
            return inner.FrameForRead(gfn);
        vm.EnterExclusive(Processor);
        try
        {
            return inner.FrameForRead(gfn);
        }
        finally
        {
            vm.ExitExclusive(Processor);
        }
    }

    public byte* FrameForWrite(uint gfn)
    {
        if (!vm.ThreadedRound)
            return inner.FrameForWrite(gfn);
        vm.EnterExclusive(Processor);
        try
        {
            return inner.FrameForWrite(gfn);
        }
        finally
        {
            vm.ExitExclusive(Processor);
        }
    }

    public uint ReadUnbacked(uint physicalAddress, int size)
    {
        if (!vm.ThreadedRound)
            return inner.ReadUnbacked(physicalAddress, size);
        // Its own local APIC (an ID read, a timer polled in a delay loop) needs no other processor stopped.
        if (LocalApicWindow.TryReadOwn(Processor.Lapic, Processor.Clock, physicalAddress, size, out uint value))
            return value;
        vm.EnterExclusive(Processor);
        try
        {
            return inner.ReadUnbacked(physicalAddress, size);
        }
        finally
        {
            vm.ExitExclusive(Processor);
        }
    }

    public void WriteUnbacked(uint physicalAddress, int size, uint value)
    {
        if (!vm.ThreadedRound)
        {
            inner.WriteUnbacked(physicalAddress, size, value);
            return;
        }

        vm.EnterExclusive(Processor);
        try
        {
            inner.WriteUnbacked(physicalAddress, size, value);
        }
        finally
        {
            vm.ExitExclusive(Processor);
        }
    }
}

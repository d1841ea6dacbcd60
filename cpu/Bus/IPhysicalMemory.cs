namespace MiniHv.Cpu;

/// <summary>
/// Guest-physical memory as the CPU sees it, one 4 KiB frame at a time. The CPU caches
/// the host addresses it gets here in its TLB, so an implementation that changes a
/// frame's backing must flush the CPU (<c>Cpu.FlushTlb</c>) or the affected page.
/// </summary>
public unsafe interface IPhysicalMemory
{
    /// <summary>Host address of the frame holding guest frame <paramref name="gfn"/> for reading, or null when it is not RAM.</summary>
    byte* FrameForRead(uint gfn);

    /// <summary>
    /// Host address of the frame for writing, or null when it is not writable RAM. May allocate a
    /// private frame (a write to the zero frame) or break sharing first: the guest never sees either.
    /// </summary>
    byte* FrameForWrite(uint gfn);

    /// <summary>A read of a physical address that is not RAM (an unclaimed hole reads 0, as on QEMU).</summary>
    uint ReadUnbacked(uint physicalAddress, int size);

    /// <summary>A write to a physical address that is not RAM.</summary>
    void WriteUnbacked(uint physicalAddress, int size, uint value);
}

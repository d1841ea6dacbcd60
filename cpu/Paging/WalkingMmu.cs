namespace MiniHv.Cpu;

/// <summary>
/// The plain MMU: every TLB miss walks the guest's page tables (<see cref="PageWalker"/>) and asks the
/// physical memory for the frame. Exactly the architecture, with nothing kept between misses; the
/// baseline that shadow paging is compared against.
/// </summary>
public sealed unsafe class WalkingMmu : IMmu
{
    private readonly Cpu _cpu;
    private readonly IPhysicalMemory _memory;

    public WalkingMmu(Cpu cpu, IPhysicalMemory memory)
    {
        _cpu = cpu;
        _memory = memory;
    }

    public bool Translate(uint linear, AccessKind access, out Translation translation, out int pageFaultError)
    {
        translation = default;
        bool pse = (_cpu.Cr4 & Cpu.CR4_PSE) != 0, wp = (_cpu.Cr0 & Cpu.CR0_WP) != 0;
        if (!PageWalker.Walk(_memory, _cpu.Cr3, pse, wp, linear, access, out WalkRecord walk))
        {
            pageFaultError = walk.ErrorCode;
            return false;
        }

        // A write walk has just set Dirty, so the write entry may be kept like a read entry.
        uint gfn = walk.PhysicalPage >> 12;
        translation.PhysicalPage = walk.PhysicalPage;
        translation.Host = (access & AccessKind.Write) != 0 ? _memory.FrameForWrite(gfn) : _memory.FrameForRead(gfn);
        translation.Cacheable = true;
        pageFaultError = 0;
        return true;
    }

    public void WriteCompleted(uint linear, uint physical, int size)
    {
    }

    public void PagingChanged(PagingChange change)
    {
    }

    public void InvalidatePage(uint linear)
    {
    }
}

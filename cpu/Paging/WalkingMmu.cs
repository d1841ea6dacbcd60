namespace MiniHv.Cpu;

/// <summary>
/// The plain MMU: every TLB miss walks the guest's page tables (<see cref="PageWalker"/>, or
/// <see cref="PaePageWalker"/> with CR4.PAE) and asks the
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
        if (!_cpu.WalkPageTables(_memory, linear, access, out WalkRecord walk))
        {
            pageFaultError = walk.ErrorCode;
            return false;
        }

        pageFaultError = 0;
        translation.PhysicalPage = walk.PhysicalPage;
        if (walk.BeyondFourGiB)
            return true; // nothing is there: no host frame, and nothing kept

        // A write walk has just set Dirty, so the write entry may be kept like a read entry.
        uint gfn = walk.PhysicalPage >> 12;
        translation.Host = (access & AccessKind.Write) != 0 ? _memory.FrameForWrite(gfn) : _memory.FrameForRead(gfn);
        translation.Cacheable = true;
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

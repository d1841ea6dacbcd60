using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// A processor's MMU as its own thread calls it when the guest's processors run on threads of their own: every call
/// (a TLB miss, a hidden fault, a store into a tracked table, a CR3 load, an INVLPG) runs in the guest's exclusive
/// section with this processor's view active. Taking turns on one thread, it passes straight through.
/// </summary>
internal sealed class ExclusiveMmu(Vm vm, VirtualCpu processor, IMmu inner) : IMmu
{
    public IMmu Inner => inner;

    public bool TagsTlbByAddressSpace => inner.TagsTlbByAddressSpace;

    public bool Translate(uint linear, AccessKind access, out Translation translation, out int pageFaultError)
    {
        using var section = new ExclusiveScope(vm, processor);
        return inner.Translate(linear, access, out translation, out pageFaultError);
    }

    public void WriteCompleted(uint linear, uint physical, int size)
    {
        using var section = new ExclusiveScope(vm, processor);
        inner.WriteCompleted(linear, physical, size);
    }

    public void PagingChanged(PagingChange change)
    {
        using var section = new ExclusiveScope(vm, processor);
        inner.PagingChanged(change);
    }

    public void InvalidatePage(uint linear)
    {
        using var section = new ExclusiveScope(vm, processor);
        inner.InvalidatePage(linear);
    }
}

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
        if (!vm.ThreadedRound)
            return inner.Translate(linear, access, out translation, out pageFaultError);
        vm.EnterExclusive(processor);
        try
        {
            return inner.Translate(linear, access, out translation, out pageFaultError);
        }
        finally
        {
            vm.ExitExclusive(processor);
        }
    }

    public void WriteCompleted(uint linear, uint physical, int size)
    {
        if (!vm.ThreadedRound)
        {
            inner.WriteCompleted(linear, physical, size);
            return;
        }

        vm.EnterExclusive(processor);
        try
        {
            inner.WriteCompleted(linear, physical, size);
        }
        finally
        {
            vm.ExitExclusive(processor);
        }
    }

    public void PagingChanged(PagingChange change)
    {
        if (!vm.ThreadedRound)
        {
            inner.PagingChanged(change);
            return;
        }

        vm.EnterExclusive(processor);
        try
        {
            inner.PagingChanged(change);
        }
        finally
        {
            vm.ExitExclusive(processor);
        }
    }

    public void InvalidatePage(uint linear)
    {
        if (!vm.ThreadedRound)
        {
            inner.InvalidatePage(linear);
            return;
        }

        vm.EnterExclusive(processor);
        try
        {
            inner.InvalidatePage(linear);
        }
        finally
        {
            vm.ExitExclusive(processor);
        }
    }
}

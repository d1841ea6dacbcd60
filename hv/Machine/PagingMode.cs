namespace MiniHv.Hv.Machine;

/// <summary>How a guest's linear addresses are translated with paging on.</summary>
public enum PagingMode
{
    /// <summary>Shadow page tables kept by the hypervisor (<see cref="Shadow.ShadowMmu"/>): the normal mode.</summary>
    Shadow,

    /// <summary>The CPU walks the guest's tables on every TLB miss (<see cref="MiniHv.Cpu.WalkingMmu"/>): the baseline shadows are checked against.</summary>
    Walk,
}

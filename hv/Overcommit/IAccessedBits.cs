namespace MiniHv.Hv.Overcommit;

/// <summary>Which guest frames a guest used lately, as the hypervisor sees it (the shadow MMU's accessed bits).</summary>
public interface IAccessedBits
{
    /// <summary>True when <paramref name="gfn"/> was used since the last call for it; the bit is cleared.</summary>
    bool HarvestAccessed(uint gfn);
}

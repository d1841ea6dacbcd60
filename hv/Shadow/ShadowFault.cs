namespace MiniHv.Hv.Shadow;

/// <summary>The hidden faults the shadow MMU resolves itself.</summary>
public enum ShadowFault
{
    /// <summary>A guest store to a frame holding one of its page directories or tables.</summary>
    PageTableWrite,

    /// <summary>A write through a shadow entry kept read-only until the guest PTE was dirty: the walk set D.</summary>
    DirtyUpdate,
}

namespace MiniHv.Hv.Shadow;

/// <summary>
/// What one VM's shadow MMU did. Each counter is updated at exactly one place in <see cref="ShadowMmu"/>.
/// </summary>
public sealed class ShadowStats
{
    /// <summary>Shadow entries built from a guest walk where none was (a hidden fault the guest never sees).</summary>
    public long ShadowFills { get; internal set; }

    /// <summary>Writes through an entry kept read-only only because the guest PTE was not yet dirty: the walk set D (hidden).</summary>
    public long AdUpdates { get; internal set; }

    /// <summary>Guest stores to a frame that holds one of its page directories or tables, done for it and followed by the shadow (hidden).</summary>
    public long PageTableWrites { get; internal set; }

    /// <summary>Loads of CR3 with paging on.</summary>
    public long Cr3Switches { get; internal set; }

    /// <summary>CR3 loads that found the address space's shadow still in the cache.</summary>
    public long Cr3SwitchHits { get; internal set; }

    /// <summary>CR3 loads of a new address space: a directory frame never loaded before, or recycled (written over as data) since its last load. No shadow can exist for them.</summary>
    public long Cr3FirstVisits { get; internal set; }

    /// <summary>Address-space shadows built.</summary>
    public long ShadowsCreated { get; internal set; }

    /// <summary>Address-space shadows dropped: evicted from the cache, or invalidated by a paging-mode change or write flooding.</summary>
    public long ShadowsDropped { get; internal set; }

    /// <summary>Shadow entries shot down because their guest frame's machine frame changed (break or merge).</summary>
    public long Shootdowns { get; internal set; }

    /// <summary>Guest tables no longer shadowed because the guest kept writing them without using them (a frame being recycled).</summary>
    public long TablesUnshadowed { get; internal set; }

    /// <summary>INVLPG instructions that dropped a shadow entry.</summary>
    public long InvlpgDrops { get; internal set; }

    /// <summary>The fraction of CR3 switches that found their shadow, 0 when there were none.</summary>
    public double Cr3HitRate => Cr3Switches == 0 ? 0 : (double)Cr3SwitchHits / Cr3Switches;

    /// <summary>The fraction of switches back to an address space loaded before that found its shadow: how well the cache keeps them.</summary>
    public double Cr3RevisitHitRate => Cr3Switches == Cr3FirstVisits ? 0 : (double)Cr3SwitchHits / (Cr3Switches - Cr3FirstVisits);
}

using MiniHv.Hv.Overcommit;

namespace MiniHv.Hv.Shadow;

/// <summary>The shadow MMU's part in memory overcommit: the accessed bits of its own entries, for the reclaimer's clock.</summary>
public sealed partial class ShadowMmu : IAccessedBits
{
    /// <summary>
    /// True when some shadow entry mapping <paramref name="gfn"/> was used since the last harvest; clears those
    /// bits and drops every processor's TLB entries of the frame, so that the next use is seen again. The guest's own page
    /// tables are not touched: their A bits are the guest's. Between quanta, on the guest's thread.
    /// </summary>
    public bool HarvestAccessed(uint gfn)
    {
        if (gfn >= _frames)
            return false;
        bool used = false;
        for (int e = _entries.FirstMapping(gfn); e != 0; e = _entries.NextMapping(e))
        {
            byte flags = _entries.Flags(e);
            if ((flags & ShadowEntryTable.Accessed) == 0)
                continue;
            used = true;
            _entries.SetFlags(e, (byte)(flags & ~ShadowEntryTable.Accessed));
        }

        // Every TLB set, not only those of the spaces with entries: a set may hold the frame in an entry kept from
        // another space (UseTlbSetOf), which no shadow entry of its own space marks when used.
        foreach (ProcessorView view in _views)
            view.Processor.FlushTlbFrame(gfn);
        return used;
    }
}

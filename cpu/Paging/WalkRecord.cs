namespace MiniHv.Cpu;

/// <summary>
/// Everything one architectural page walk saw: the entries it read (after it set their Accessed and
/// Dirty bits), where they live, the page it found and the permissions on the way, or the page-fault
/// error code. A shadow MMU builds its entries from this record.
/// </summary>
public struct WalkRecord
{
    /// <summary>Guest-physical address of the page-directory entry, and its value.</summary>
    public uint PdeAddress, Pde;

    /// <summary>Guest-physical address of the page-table entry and its value; 0 for a 4 MiB page.</summary>
    public uint PteAddress, Pte;

    /// <summary>True for a 4 MiB page (CR4.PSE and PDE.PS).</summary>
    public bool Large;

    /// <summary>The physical page (low 12 bits clear).</summary>
    public uint PhysicalPage;

    /// <summary>U/S and R/W of the walk: both levels allow it.</summary>
    public bool User, Writable;

    /// <summary>The leaf entry's Dirty bit.</summary>
    public bool Dirty;

    /// <summary>The page-fault error code when the walk failed.</summary>
    public int ErrorCode;
}

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

    /// <summary>True for a 4 MiB page (CR4.PSE and PDE.PS), or with PAE a 2 MiB page (PDE.PS).</summary>
    public bool Large;

    /// <summary>A PAE walk: the entries are 64-bit, <see cref="Pde"/> and <see cref="Pte"/> their low halves.</summary>
    public bool Pae;

    /// <summary>The high halves of the PAE entries (address bits 35-32, reserved bits, NX in bit 31).</summary>
    public uint PdeHigh, PteHigh;

    /// <summary>Instruction fetches are refused: EFER.NXE and the NX bit in the PDE or the PTE.</summary>
    public bool NoExecute;

    /// <summary>The page lies at or above 4 GiB (a PAE entry's address bits 35-32); <see cref="PhysicalPage"/> holds its low 32 bits. Nothing is there.</summary>
    public bool BeyondFourGiB;

    /// <summary>The physical page (low 12 bits clear).</summary>
    public uint PhysicalPage;

    /// <summary>U/S and R/W of the walk: both levels allow it.</summary>
    public bool User, Writable;

    /// <summary>The leaf entry's Dirty bit.</summary>
    public bool Dirty;

    /// <summary>The page-fault error code when the walk failed.</summary>
    public int ErrorCode;
}

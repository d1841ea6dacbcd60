namespace MiniHv.Cpu;

/// <summary>What the MMU answers for one linear page: the guest-physical page, the host bytes behind it, and what the TLB may keep.</summary>
public unsafe struct Translation
{
    /// <summary>Guest-physical address of the page (low 12 bits clear).</summary>
    public uint PhysicalPage;

    /// <summary>Host address of the page's bytes for this access, or null when the page is not RAM.</summary>
    public byte* Host;

    /// <summary>True when the TLB may keep the translation for further accesses of the same kind.</summary>
    public bool Cacheable;

    /// <summary>For a write: the store is done once through <see cref="Host"/>, then the MMU is told with <see cref="IMmu.WriteCompleted"/>.</summary>
    public bool NotifyWrite;
}

/// <summary>Why the CPU tells the MMU that translations may have changed.</summary>
public enum PagingChange
{
    /// <summary>A load of CR3 (even of the same value).</summary>
    Cr3Loaded,

    /// <summary>CR0.PG, CR0.WP or CR0.PE changed.</summary>
    Cr0Changed,

    /// <summary>CR4 was written (PSE or PAE may have changed).</summary>
    Cr4Changed,

    /// <summary>IA32_EFER changed (NXE: bit 63 of PAE entries means something else).</summary>
    EferChanged,
}

/// <summary>
/// Linear-to-physical translation with paging on, asked by the CPU on a TLB miss. The CPU's own
/// <see cref="WalkingMmu"/> walks the guest's page tables every time; a hypervisor may keep shadow
/// tables instead, as long as every answer is the one the architecture gives (faults with their exact
/// error codes, Accessed and Dirty bits set when hardware would set them).
/// </summary>
public interface IMmu
{
    /// <summary>
    /// Translate <paramref name="linear"/> for <paramref name="access"/> under the CPU's current CR0, CR3
    /// and CR4. False means a page fault with <paramref name="pageFaultError"/>; the CPU sets CR2.
    /// </summary>
    bool Translate(uint linear, AccessKind access, out Translation translation, out int pageFaultError);

    /// <summary>A store of <paramref name="size"/> bytes at <paramref name="linear"/> (guest-physical <paramref name="physical"/>) went through a translation marked <see cref="Translation.NotifyWrite"/>.</summary>
    void WriteCompleted(uint linear, uint physical, int size);

    /// <summary>
    /// CR0, CR3 or CR4 was written. The CPU has already dropped its TLB, except at a CR3 load when
    /// <see cref="TagsTlbByAddressSpace"/> holds: then the MMU chooses the TLB set for the space now loaded.
    /// </summary>
    void PagingChanged(PagingChange change);

    /// <summary>
    /// True when the MMU keeps every address space's translations coherent with the guest's tables by itself
    /// (as shadow paging does), so a CR3 load need not empty the CPU's TLB: the MMU picks one of the CPU's tagged
    /// sets for the space (<see cref="Cpu.UseTlbSet"/>), and drops entries of any set whose translations it changes.
    /// </summary>
    bool TagsTlbByAddressSpace => false;

    /// <summary>INVLPG of <paramref name="linear"/>. The CPU has already dropped that page from its TLB.</summary>
    void InvalidatePage(uint linear);
}

namespace MiniHv.Hv.Faults;

/// <summary>Where a hidden fault happened, as the hypervisor code that resolves it knows it.</summary>
/// <param name="Gfn">The guest frame that broke, or whose page table was written or had A/D set.</param>
/// <param name="Linear">The linear address of the guest access, or null when the access was not the CPU's (a device, the loader).</param>
/// <param name="Eip">The EIP of the instruction that made the access.</param>
/// <param name="Cr3">CR3 at the time.</param>
/// <param name="Cpl">CPL at the time.</param>
/// <param name="Instructions">Guest instructions retired.</param>
/// <param name="Cr2">CR2 at the time (left as it was: a hidden fault never changes it).</param>
/// <param name="CodeSegmentBase">CS's base, to read the instruction at CS:EIP.</param>
public readonly record struct HiddenFaultSite(
    uint Gfn, uint? Linear, uint Eip, uint Cr3, int Cpl, long Instructions, uint Cr2 = 0, uint CodeSegmentBase = 0, int Processor = 0);

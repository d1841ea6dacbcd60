namespace MiniHv.Hv.Inspection;

/// <summary>The dump of the page tables a processor translates through now: PAE (<see cref="PaePageTableDump"/>) or two-level (<see cref="PageTableDump"/>).</summary>
public static class CurrentPageTables
{
    /// <summary>The dump for <paramref name="cpu"/>'s CR3, CR4 and, with PAE, its PDPTE registers and EFER.NXE; paging must be on.</summary>
    public static string Format(MiniHv.Cpu.Cpu cpu, GuestPhysicalWordReader readWord, Func<uint, FrameBacking> backing)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if ((cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PAE) != 0)
        {
            ulong[] pdptes = [cpu.Pdpte(0), cpu.Pdpte(1), cpu.Pdpte(2), cpu.Pdpte(3)];
            return PaePageTableDump.Format(cpu.Cr3, pdptes, cpu.NoExecuteEnabled, readWord, backing);
        }

        return PageTableDump.Format(cpu.Cr3, (cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PSE) != 0, readWord, backing);
    }
}

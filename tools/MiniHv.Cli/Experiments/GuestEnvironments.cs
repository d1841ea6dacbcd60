using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Cli.Experiments;

/// <summary>One user page at a library address in one environment of a guest.</summary>
internal readonly record struct LibraryMapping(int Env, uint Linear, uint Gfn, bool Writable);

/// <summary>
/// Reads a JOS-style guest's environments from outside, as a hypervisor that knows the guest's layout can: the
/// envs[] array through its read-only view at UENVS, and each live environment's page directory. Only what the
/// shared-object experiment needs: which guest frames each environment maps at library addresses.
/// </summary>
/// <remarks>
/// The layout is guests/inc/memlayout.h's and guests/inc/env.h's; guests/kern/env.c asserts the offsets used here
/// at compile time, so the two cannot drift apart silently.
/// </remarks>
internal static class GuestEnvironments
{
    private const uint KernBase = 0xF000_0000, UEnvs = 0xEF00_0000;
    private const int NEnv = 1024, EnvSize = 132, EnvStatus = 80, EnvPgdir = 88;
    private const uint EnvFree = 0;
    private const uint P = 1, W = 2, U = 4, PS = 0x80;

    /// <summary>libshared.so's addresses: ULIB up to ULIB + ULIB_SPAN, and room for the largest build above.</summary>
    public const uint LibraryStart = 0x4000_0000, LibraryEnd = 0x5000_0000 + (4u << 20);

    /// <summary>Every present user page at a library address in every live environment, or none if the guest's paging is off.</summary>
    public static List<LibraryMapping> LibraryMappings(Vm vm)
    {
        var result = new List<LibraryMapping>();
        GuestPhysicalMemory mem = vm.Memory;
        uint cr3 = vm.Cpu.Cr3 & ~0xFFFu;
        if (!vm.Cpu.PagingEnabled)
            return result;
        for (int i = 0; i < NEnv; i++)
        {
            uint env = UEnvs + (uint)(i * EnvSize);
            if (Translate(mem, cr3, env + EnvStatus) is not uint statusAt || Translate(mem, cr3, env + EnvPgdir) is not uint pgdirAt)
                break;
            if (mem.ReadUInt32(statusAt) == EnvFree)
                continue;
            uint pgdir = mem.ReadUInt32(pgdirAt) - KernBase;
            for (uint pdx = LibraryStart >> 22; pdx < LibraryEnd >> 22; pdx++)
            {
                uint pde = mem.ReadUInt32(pgdir + (pdx * 4));
                if ((pde & (P | U)) != (P | U) || (pde & PS) != 0)
                    continue;
                uint table = pde & ~0xFFFu;
                for (uint ptx = 0; ptx < 1024; ptx++)
                {
                    uint pte = mem.ReadUInt32(table + (ptx * 4));
                    if ((pte & (P | U)) == (P | U))
                        result.Add(new LibraryMapping(i, (pdx << 22) | (ptx << 12), pte >> 12, (pte & W) != 0));
                }
            }
        }

        return result;
    }

    /// <summary>The guest-physical address of <paramref name="linear"/> through the page directory at <paramref name="cr3"/>.</summary>
    private static uint? Translate(GuestPhysicalMemory mem, uint cr3, uint linear)
    {
        uint pde = mem.ReadUInt32(cr3 + ((linear >> 22) * 4));
        if ((pde & P) == 0)
            return null;
        if ((pde & PS) != 0)
            return (pde & 0xFFC0_0000) | (linear & 0x3F_FFFF);
        uint pte = mem.ReadUInt32((pde & ~0xFFFu) + (((linear >> 12) & 0x3FF) * 4));
        return (pte & P) == 0 ? null : (pte & ~0xFFFu) | (linear & 0xFFF);
    }
}

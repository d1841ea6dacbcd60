using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Cli.Bench;

/// <summary>
/// Loops of four instructions each, in a whole VM (its local APIC at 0xFEE00000 on the memory bus) with paging
/// on: ALU only, one ordinary memory load per iteration, one read of the local APIC's ID register per
/// iteration, as kernels do in loops (xv6's cpuid/mycpu), and two CR3 loads per iteration, switching between two
/// address spaces and back as a kernel's context switch does. The load loops differ only in the load's address.
/// </summary>
internal sealed class PagedLoopWorkload : IDisposable
{
    public enum Kind
    {
        Alu,
        MemoryLoad,
        LapicIdRead,
        Cr3Switch,
    }

    private const uint PageDirectory = 0x180000;
    private const uint SecondDirectory = PageDirectory + 0x1000;
    private const uint Code = 0x200000;
    private const uint Data = 0x300000;
    private const uint LapicId = 0xFEE0_0020;
    private const uint Iterations = 4096;

    private readonly MachineMemory _machine = new(8192);
    private readonly Vm _vm;

    /// <param name="tier">Said by every caller: a row's tier is part of what it measures, whatever the default.</param>
    public PagedLoopWorkload(Kind kind, CpuTier tier)
    {
        var config = new VmConfig
        {
            Name = "bench-apic",
            Image = EmbeddedGuests.Jos(),
            CommandLine = EmbeddedGuests.JosName,
            MemoryBytes = 16L << 20,
            Tier = tier,
        };
        _vm = new Vm(config, _machine, _ => { });

        // Instead of the kernel: identity-map the first 4 MiB and the device area with 4 MiB pages, paging on.
        GuestPhysicalMemory memory = _vm.Memory;
        memory.WriteUInt32(PageDirectory, 0x0000_0083);                                      // P, RW, PS
        memory.WriteUInt32(PageDirectory + ((0xFEC0_0000 >> 22) * 4), 0xFEC0_0093);         // P, RW, PCD, PS
        memory.WriteUInt32(SecondDirectory, 0x0000_0083);                                    // the same, for Cr3Switch
        memory.Write(Code, Assemble(kind));
        MiniHv.Cpu.Cpu cpu = _vm.Cpu;
        cpu.Cr4 |= MiniHv.Cpu.Cpu.CR4_PSE;
        cpu.Cr3 = PageDirectory;
        cpu.Cr0 |= MiniHv.Cpu.Cpu.CR0_PG;
        cpu.Esp = 0x90000;
        cpu.Eip = Code;
    }

    public MiniHv.Cpu.Cpu Cpu => _vm.Cpu;

    /// <summary>Run <paramref name="instructions"/> more instructions of the endless loop.</summary>
    public void Run(long instructions)
    {
        StopReason r = _vm.Cpu.Run(instructions);
        if (r != StopReason.Budget)
            throw new InvalidOperationException($"the APIC benchmark loop stopped: {r} at {_vm.Cpu.Eip:x8}, {_vm.Cpu.LastFault}");
    }

    private static byte[] Assemble(Kind kind)
    {
        var a = new Assembler(32);
        Label top = a.CreateLabel(), body = a.CreateLabel();
        a.mov(esi, Data);
        a.xor(ebx, ebx);
        a.mov(edi, SecondDirectory);
        a.mov(ebp, PageDirectory);
        a.Label(ref top);
        a.mov(ecx, Iterations);
        a.Label(ref body);
        switch (kind)
        {
            case Kind.Alu:
                a.add(eax, ebx);
                a.xor(ebx, 0x5A);
                break;
            case Kind.MemoryLoad:
                a.mov(eax, __dword_ptr[esi]);
                a.add(ebx, eax);
                break;
            case Kind.LapicIdRead:
                a.mov(eax, __dword_ptr[LapicId]);
                a.add(ebx, eax);
                break;
            default:
                a.mov(cr3, edi);
                a.mov(cr3, ebp);
                break;
        }

        a.dec(ecx);
        a.jnz(body);
        a.jmp(top);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        return stream.ToArray();
    }

    public void Dispose()
    {
        _vm.Dispose();
        _machine.Dispose();
    }
}

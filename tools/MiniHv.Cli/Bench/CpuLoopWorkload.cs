using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Cli.Bench;

/// <summary>
/// The CPU benchmark's guest: a fixed loop of ALU work, loads and stores, a call and branches, run with
/// paging on (4 KiB pages) on a real guest memory, so every access goes through the software TLB.
/// </summary>
internal sealed class CpuLoopWorkload : IDisposable
{
    private const uint PageDirectory = 0x1000;
    private const uint PageTable = 0x2000;
    private const uint Code = 0x100000;
    private const uint Data = 0x200000;
    private const uint DataWords = 1024;   // one page of words, walked by the loop

    private readonly MachineMemory _machine = new(1024);
    private readonly GuestPhysicalMemory _memory;

    public CpuLoopWorkload()
    {
        _memory = new GuestPhysicalMemory(_machine, 4 << 20);
        Cpu = new MiniHv.Cpu.Cpu(_memory, new NoPorts());
        _memory.BackingChanged += Cpu.FlushTlbFrame;

        // Identity-map the first 4 MiB with 4 KiB pages, then turn paging on.
        _memory.WriteUInt32(PageDirectory, PageTable | 0x3);
        for (uint i = 0; i < 1024; i++)
            _memory.WriteUInt32(PageTable + (i * 4), (i << 12) | 0x3);
        CodeBytes = Assemble();
        _memory.Write(Code, CodeBytes);
        Cpu.Cr3 = PageDirectory;
        Cpu.Cr0 |= MiniHv.Cpu.Cpu.CR0_PG;
        Cpu.Esp = 0x80000;
        Cpu.Eip = Code;
    }

    public MiniHv.Cpu.Cpu Cpu { get; }

    /// <summary>The loop's machine code, for the decode-rate baseline.</summary>
    public byte[] CodeBytes { get; }

    /// <summary>Run <paramref name="instructions"/> more instructions of the endless loop.</summary>
    public void Run(long instructions)
    {
        StopReason r = Cpu.Run(instructions);
        if (r != StopReason.Budget)
            throw new InvalidOperationException($"the benchmark loop stopped: {r} at {Cpu.Eip:x8}, {Cpu.LastFault}");
    }

    private static byte[] Assemble()
    {
        var a = new Assembler(32);
        Label top = a.CreateLabel(), mix = a.CreateLabel();
        a.mov(esi, Data);
        a.xor(ebx, ebx);
        a.mov(edx, 0x12345678);
        a.Label(ref top);
        a.mov(ecx, DataWords);
        Label body = a.CreateLabel();
        a.Label(ref body);
        a.mov(eax, __dword_ptr[esi + ecx * 4 - 4]);   // load
        a.add(eax, edx);
        a.xor(edx, eax);
        a.shl(eax, 3);
        a.lea(edi, __dword_ptr[eax + ebx * 2 + 7]);
        a.mov(__dword_ptr[esi + ecx * 4 - 4], edi);   // store
        a.call(mix);
        a.cmp(eax, edx);
        Label skip = a.CreateLabel();
        a.jb(skip);                                     // data-dependent branch
        a.inc(ebx);
        a.Label(ref skip);
        a.sub(edx, ebx);
        a.loop(body);
        a.jmp(top);
        a.Label(ref mix);
        a.rol(edx, 5);
        a.and(edx, 0x7FFFFFFF);
        a.ret();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        return stream.ToArray();
    }

    public void Dispose()
    {
        Cpu.Dispose();
        _memory.Dispose();
        _machine.Dispose();
    }
}

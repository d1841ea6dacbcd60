using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Cli.Bench;

/// <summary>
/// The CPU benchmark's guest: a fixed loop of ALU work, loads and stores, a call and branches, run with
/// paging on (4 KiB pages) on a real guest memory, so every access goes through the software TLB; or,
/// with <c>x87</c>, a loop of x87 arithmetic over an array of doubles (load, multiply, add, square root,
/// divide, compare and conditional move, store), every value kept in [1, 2).
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

    public CpuLoopWorkload(bool x87 = false)
    {
        _memory = new GuestPhysicalMemory(_machine, 4 << 20);
        Cpu = new MiniHv.Cpu.Cpu(_memory, new NoPorts());
        _memory.BackingChanged += Cpu.FlushTlbFrame;

        // Identity-map the first 4 MiB with 4 KiB pages, then turn paging on.
        _memory.WriteUInt32(PageDirectory, PageTable | 0x3);
        for (uint i = 0; i < 1024; i++)
            _memory.WriteUInt32(PageTable + (i * 4), (i << 12) | 0x3);
        CodeBytes = x87 ? AssembleX87() : Assemble();
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

    private static byte[] AssembleX87()
    {
        const uint Half = Data + 0x1000;
        var a = new Assembler(32);
        Label top = a.CreateLabel(), body = a.CreateLabel();
        a.mov(__dword_ptr[Half], 0);
        a.mov(__dword_ptr[Half + 4], 0x3FE00000); // 0.5
        a.mov(esi, Data);
        a.fninit();
        a.fld1();
        a.fld(__qword_ptr[Half]);                   // st0 = 0.5, st1 = 1
        a.Label(ref top);
        a.mov(ecx, DataWords / 2);
        a.Label(ref body);
        a.fld(__qword_ptr[esi + ecx * 8 - 8]);      // x in [1, 2) (0 at first)
        a.fmul(st0, st1);                           // x / 2
        a.fadd(st0, st2);                           // + 1: in [1, 2)
        a.fsqrt();
        a.fld(st0);
        a.fmul(st0, st0);                           // its square, back in [1, 2)
        a.fdiv(st0, st1);                           // square / root = root
        a.fcomi(st0, st1);
        a.fcmovb(st0, st1);
        a.fstp(st1);
        a.fstp(__qword_ptr[esi + ecx * 8 - 8]);
        a.loop(body);
        a.jmp(top);
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

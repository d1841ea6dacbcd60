using System.Runtime.InteropServices;
using Iced.Intel;
using MiniHv.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>Plain RAM for CPU unit tests: every frame below the size is backed, nothing is shared.</summary>
public sealed unsafe class FlatMemory : IPhysicalMemory, IDisposable
{
    private readonly byte* _ram;

    public FlatMemory(uint bytes)
    {
        Size = bytes;
        _ram = (byte*)NativeMemory.AllocZeroed(bytes);
    }

    public uint Size { get; }

    public int UnbackedWrites { get; private set; }

    public byte* FrameForRead(uint gfn) => (ulong)gfn << 12 < Size ? _ram + ((ulong)gfn << 12) : null;

    public byte* FrameForWrite(uint gfn) => FrameForRead(gfn);

    public uint ReadUnbacked(uint physicalAddress, int size) => size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1;

    public void WriteUnbacked(uint physicalAddress, int size, uint value) => UnbackedWrites++;

    public void Write(uint address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>(_ram + address, bytes.Length));

    public void Write8(uint address, byte value) => _ram[address] = value;

    public void Write16(uint address, ushort value) => *(ushort*)(_ram + address) = value;

    public void Write32(uint address, uint value) => *(uint*)(_ram + address) = value;

    public void Write64(uint address, ulong value) => *(ulong*)(_ram + address) = value;

    public uint Read32(uint address) => *(uint*)(_ram + address);

    public ushort Read16(uint address) => *(ushort*)(_ram + address);

    public ulong Read64(uint address) => *(ulong*)(_ram + address);

    public byte Read8(uint address) => _ram[address];

    public void Dispose() => NativeMemory.Free(_ram);
}

/// <summary>Port I/O for tests: records OUTs, answers INs from a table (all ones otherwise).</summary>
public sealed class RecordingIo : IIoBus
{
    public List<(ushort Port, int Size, uint Value)> Outs { get; } = new();

    public List<(ushort Port, int Size)> Ins { get; } = new();

    public Dictionary<ushort, uint> Inputs { get; } = new();

    public uint In(ushort port, int size)
    {
        Ins.Add((port, size));
        return Inputs.TryGetValue(port, out var v) ? v : size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1;
    }

    /// <summary>Called after each OUT is recorded, so a test can make a device react (raise an interrupt).</summary>
    public Action<ushort, uint>? OnOut { get; set; }

    public void Out(ushort port, int size, uint value)
    {
        Outs.Add((port, size, value));
        OnOut?.Invoke(port, value);
    }
}

/// <summary>A CPU on flat RAM with code assembled by Iced, in the multiboot boot state.</summary>
public sealed class TestMachine : IDisposable
{
    public const uint CodeBase = 0x100000;

    public TestMachine(uint ramBytes = 16 << 20)
    {
        Memory = new FlatMemory(ramBytes);
        Io = new RecordingIo();
        Cpu = new MiniHv.Cpu.Cpu(Memory, Io);
        Cpu.Esp = 0x80000;
    }

    public FlatMemory Memory { get; }

    public RecordingIo Io { get; }

    public MiniHv.Cpu.Cpu Cpu { get; }

    /// <summary>Assemble 32-bit code at <paramref name="address"/> and point EIP at it.</summary>
    public void Load(Action<Assembler> program, uint address = CodeBase)
    {
        Assemble(address, program);
        Cpu.Eip = address;
    }

    /// <summary>Assemble code of the given bitness at <paramref name="address"/> without moving EIP; returns its length.</summary>
    public int Assemble(uint address, Action<Assembler> program, int bitness = 32)
    {
        var a = new Assembler(bitness);
        program(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        Memory.Write(address, stream.ToArray());
        Cpu.FlushCodeCache();

        // The flush also asks a running block to stop early; between runs there is none, and a
        // leftover request would cut the first block of the next run after one instruction.
        Cpu.AbortBlock = false;
        return (int)stream.Length;
    }

    /// <summary>Assemble, run until HLT (or the budget), and return why it stopped.</summary>
    public StopReason Run(Action<Assembler> program, long budget = 1_000_000)
    {
        Load(program);
        return Cpu.Run(budget);
    }

    /// <summary>Never free this machine: a thread that cannot be stopped still runs on it.</summary>
    public void Abandon() => _abandoned = true;

    private bool _abandoned;

    public void Dispose()
    {
        if (_abandoned)
            return;
        Cpu.Dispose();
        Memory.Dispose();
    }
}

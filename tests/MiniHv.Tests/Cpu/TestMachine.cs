using System.Runtime.InteropServices;
using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// RAM for CPU unit tests: every frame below the size is backed. Either one plain native buffer, or a
/// hypervisor guest memory (lazily allocated frames over a machine pool) for tests of the shadow MMU;
/// the helpers read and write it the same way, as a device would, without going through the CPU.
/// </summary>
public sealed unsafe class FlatMemory : IPhysicalMemory, IDisposable
{
    private readonly byte* _ram;
    private readonly MachineMemory? _machine;

    public FlatMemory(uint bytes)
    {
        Size = bytes;
        _ram = (byte*)NativeMemory.AllocZeroed(bytes);
    }

    /// <summary>RAM as a guest of the hypervisor has it: frames on the zero frame until written.</summary>
    public FlatMemory(uint bytes, bool guestMemory)
    {
        Size = bytes;
        if (!guestMemory)
        {
            _ram = (byte*)NativeMemory.AllocZeroed(bytes);
            return;
        }

        _machine = new MachineMemory(bytes >> 12);
        Guest = new GuestPhysicalMemory(_machine, bytes);
    }

    public uint Size { get; }

    /// <summary>The guest memory behind this RAM, or null for a plain buffer.</summary>
    public GuestPhysicalMemory? Guest { get; }

    public int UnbackedWrites { get; private set; }

    /// <summary>Every read of a physical address that is not RAM, in order.</summary>
    public List<(uint Address, int Size)> UnbackedReadLog { get; } = new();

    /// <summary>Every write to a physical address that is not RAM, in order.</summary>
    public List<(uint Address, int Size, uint Value)> UnbackedWriteLog { get; } = new();

    /// <summary>Called after each write to a physical address that is not RAM, as a device would react.</summary>
    public Action<uint, uint>? OnUnbackedWrite { get; set; }

    public byte* FrameForRead(uint gfn)
        => Guest != null ? Guest.FrameForRead(gfn) : (ulong)gfn << 12 < Size ? _ram + ((ulong)gfn << 12) : null;

    public byte* FrameForWrite(uint gfn)
        => Guest != null ? Guest.FrameForWrite(gfn) : FrameForRead(gfn);

    public uint ReadUnbacked(uint physicalAddress, int size)
    {
        UnbackedReadLog.Add((physicalAddress, size));
        return size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1;
    }

    public void WriteUnbacked(uint physicalAddress, int size, uint value)
    {
        UnbackedWrites++;
        UnbackedWriteLog.Add((physicalAddress, size, value));
        OnUnbackedWrite?.Invoke(physicalAddress, value);
    }

    public void Write(uint address, ReadOnlySpan<byte> bytes)
    {
        if (Guest != null)
            Guest.Write(address, bytes);
        else
            bytes.CopyTo(new Span<byte>(_ram + address, bytes.Length));
    }

    public void Write8(uint address, byte value) => Write(address, [value]);

    public void Write16(uint address, ushort value) => Write(address, BitConverter.GetBytes(value));

    public void Write32(uint address, uint value) => Write(address, BitConverter.GetBytes(value));

    public void Write64(uint address, ulong value) => Write(address, BitConverter.GetBytes(value));

    public uint Read32(uint address) => BitConverter.ToUInt32(Read(address, 4));

    public ushort Read16(uint address) => BitConverter.ToUInt16(Read(address, 2));

    public ulong Read64(uint address) => BitConverter.ToUInt64(Read(address, 8));

    public byte Read8(uint address) => Read(address, 1)[0];

    private byte[] Read(uint address, int n)
    {
        var bytes = new byte[n];
        if (Guest != null)
            Guest.Read(address, bytes);
        else
            new ReadOnlySpan<byte>(_ram + address, n).CopyTo(bytes);
        return bytes;
    }

    public void Dispose()
    {
        if (Guest != null)
        {
            Guest.Dispose();
            _machine!.Dispose();
        }
        else
        {
            NativeMemory.Free(_ram);
        }
    }
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
        : this(PagingMode.Walk, ramBytes)
    {
    }

    /// <summary>A machine whose MMU is the plain walk over plain RAM, or the hypervisor's shadow MMU over guest memory.</summary>
    public TestMachine(PagingMode paging, uint ramBytes = 16 << 20)
    {
        Memory = new FlatMemory(ramBytes, guestMemory: paging == PagingMode.Shadow);
        Io = new RecordingIo();
        Cpu = new MiniHv.Cpu.Cpu(Memory, Io);
        if (Memory.Guest != null)
        {
            Memory.Guest.BackingChanged += Cpu.FlushTlbFrame;
            Cpu.Mmu = Shadow = new ShadowMmu(Cpu, Memory.Guest);
        }

        Cpu.Esp = 0x80000;
    }

    /// <summary>The shadow MMU, when the machine has one.</summary>
    public ShadowMmu? Shadow { get; }

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

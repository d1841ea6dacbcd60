using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>Run a snippet on a fresh machine and hand the machine back for asserts.</summary>
internal static class Exec
{
    public const uint ArithFlags = MiniHv.Cpu.Cpu.CF | MiniHv.Cpu.Cpu.PF | MiniHv.Cpu.Cpu.AF | MiniHv.Cpu.Cpu.ZF
        | MiniHv.Cpu.Cpu.SF | MiniHv.Cpu.Cpu.OF;

    /// <summary>Run <paramref name="body"/> followed by HLT with the given starting EFLAGS; asserts it halted.</summary>
    public static TestMachine Code(Action<Assembler> body, uint eflags = 0x2)
    {
        var m = new TestMachine();
        m.Cpu.Eflags = eflags;
        var stop = m.Run(a =>
        {
            body(a);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"stopped at EIP {m.Cpu.Eip:x8}, last fault {m.Cpu.LastFault}");
        return m;
    }

    /// <summary>The arithmetic flags after running <paramref name="body"/> (starting from <paramref name="eflags"/>).</summary>
    public static uint Flags(Action<Assembler> body, uint eflags = 0x2)
    {
        using var m = Code(body, eflags);
        return m.Cpu.Eflags & ArithFlags;
    }

    /// <summary>
    /// Runs <paramref name="budget"/> instructions on another thread and fails if Run does not come back within
    /// <paramref name="limit"/>: a test of a hang fails instead of hanging. The CPU is then asked to stop; if even
    /// that does not end the run, the machine is abandoned (never freed under the running thread).
    /// </summary>
    public static StopReason RunWithin(TestMachine m, long budget, TimeSpan limit)
    {
        StopReason stop = default;
        var runner = new Thread(() => stop = m.Cpu.Run(budget)) { IsBackground = true };
        runner.Start();
        if (runner.Join(limit))
            return stop;
        m.Cpu.RequestStop();
        if (!runner.Join(TimeSpan.FromSeconds(5)))
            m.Abandon();
        Assert.Fail($"Cpu.Run({budget}) did not return within {limit.TotalSeconds} s");
        return stop;
    }

    /// <summary>Names of the set flags among CF PF AF ZF SF OF, for readable assertion messages.</summary>
    public static string Names(uint flags)
    {
        var names = new List<string>();
        if ((flags & 0x1) != 0) names.Add("CF");
        if ((flags & 0x4) != 0) names.Add("PF");
        if ((flags & 0x10) != 0) names.Add("AF");
        if ((flags & 0x40) != 0) names.Add("ZF");
        if ((flags & 0x80) != 0) names.Add("SF");
        if ((flags & 0x800) != 0) names.Add("OF");
        return names.Count == 0 ? "none" : string.Join("|", names);
    }
}

/// <summary>Descriptor encodings, as the Intel manual lays them out.</summary>
internal static class Desc
{
    public const byte Present = 0x80;

    /// <summary>A segment descriptor; <paramref name="access"/> is the P/DPL/S/type byte, <paramref name="flags"/> the G/DB/L/AVL nibble.</summary>
    public static ulong Segment(uint baseAddress, uint limit, byte access, byte flags = 0xC)
    {
        ulong d = limit & 0xFFFFul;
        d |= (ulong)(baseAddress & 0xFFFFFF) << 16;
        d |= (ulong)access << 40;
        d |= (ulong)((limit >> 16) & 0xF) << 48;
        d |= (ulong)(flags & 0xF) << 52;
        d |= (ulong)(baseAddress >> 24) << 56;
        return d;
    }

    public static ulong FlatCode(int dpl) => Segment(0, 0xFFFFF, (byte)(0x9A | (dpl << 5)));

    public static ulong FlatData(int dpl) => Segment(0, 0xFFFFF, (byte)(0x92 | (dpl << 5)));

    /// <summary>An interrupt (or trap) gate to <paramref name="selector"/>:<paramref name="offset"/>.</summary>
    public static ulong Gate(ushort selector, uint offset, int dpl = 0, bool trap = false, bool present = true)
    {
        ulong d = offset & 0xFFFFu;
        d |= (ulong)selector << 16;
        d |= (ulong)((present ? 0x80 : 0) | (dpl << 5) | (trap ? 0xF : 0xE)) << 40;
        d |= (ulong)(offset >> 16) << 48;
        return d;
    }
}

/// <summary>
/// A protected-mode world built in the test machine's RAM: a GDT, an IDT whose every vector
/// points at its own one-instruction HLT stub, and a 32-bit TSS with SS0:ESP0 for ring 3.
/// After an exception the CPU halts in the stub, with the frame on the handler's stack.
/// </summary>
internal sealed class SystemTables
{
    public const uint GdtBase = 0x1000, IdtBase = 0x2000, TssBase = 0x3000, StubBase = 0x180000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserCode = 0x1B, UserData = 0x23, TssSelector = 0x28;
    public const uint KernelStack = 0x70000;

    private readonly TestMachine _m;

    public SystemTables(TestMachine m)
    {
        _m = m;
        SetGdt(1, Desc.FlatCode(0));
        SetGdt(2, Desc.FlatData(0));
        SetGdt(3, Desc.FlatCode(3));
        SetGdt(4, Desc.FlatData(3));
        SetGdt(5, Desc.Segment(TssBase, 0x67, 0x89, 0));
        m.Cpu.Gdtr = new TableRegister { Base = GdtBase, Limit = (32 * 8) - 1 };

        // Every vector: an interrupt gate to a HLT stub of its own, so the EIP tells which fired.
        for (int v = 0; v < 256; v++)
        {
            m.Memory.Write8(StubBase + ((uint)v * 16), 0xF4);
            SetGate(v, Desc.Gate(KernelCode, StubBase + ((uint)v * 16)));
        }

        m.Cpu.Idtr = new TableRegister { Base = IdtBase, Limit = (256 * 8) - 1 };

        m.Memory.Write32(TssBase + 4, KernelStack);
        m.Memory.Write32(TssBase + 8, KernelData);
        m.Memory.Write16(TssBase + 0x66, 0x68);
        m.Cpu.Tr = SegmentCache.FromDescriptor(TssSelector, Desc.Segment(TssBase, 0x67, 0x8B, 0));
        m.Cpu.FlushCodeCache();
        m.Cpu.AbortBlock = false;
    }

    /// <summary>The machine the tables live in.</summary>
    public TestMachine Machine => _m;

    public void SetGdt(int index, ulong descriptor) => _m.Memory.Write64(GdtBase + ((uint)index * 8), descriptor);

    public ulong GetGdt(int index) => _m.Memory.Read64(GdtBase + ((uint)index * 8));

    public void SetGate(int vector, ulong gate) => _m.Memory.Write64(IdtBase + ((uint)vector * 8), gate);

    /// <summary>Stub address of a vector: the EIP after its HLT is this plus one.</summary>
    public static uint Stub(int vector) => StubBase + ((uint)vector * 16);

    /// <summary>The vector whose stub the CPU halted in, or -1.</summary>
    public int HaltedInVector()
    {
        uint eip = _m.Cpu.Eip;
        if (eip < StubBase || eip >= StubBase + (256 * 16) || (eip & 15) != 1)
            return -1;
        return (int)((eip - StubBase) / 16);
    }

    /// <summary>Dword <paramref name="index"/> of the current stack, read as the CPU would.</summary>
    public uint Stack(int index) => _m.Cpu.ReadLinear(_m.Cpu.Esp + ((uint)index * 4), 4);

    /// <summary>Switch the CPU to ring 3 with flat user segments (no transfer instruction involved).</summary>
    public void EnterUserMode(uint eip, uint esp)
    {
        var cpu = _m.Cpu;
        cpu.SetSegmentCache(SegReg.CS, SegmentCache.FromDescriptor(UserCode, Desc.FlatCode(3) | (1ul << 40)));
        foreach (var seg in new[] { SegReg.SS, SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS })
            cpu.SetSegmentCache(seg, SegmentCache.FromDescriptor(UserData, Desc.FlatData(3) | (1ul << 40)));
        cpu.Eip = eip;
        cpu.Esp = esp;
    }

    /// <summary>Assert the CPU halted in the stub of <paramref name="vector"/>.</summary>
    public void AssertHaltedIn(int vector, StopReason stop)
    {
        Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"EIP {_m.Cpu.Eip:x8}");
        Assert.That(HaltedInVector(), Is.EqualTo(vector), () => $"EIP {_m.Cpu.Eip:x8}, last fault {_m.Cpu.LastFault}");
    }
}

/// <summary>Two-level i386 page tables in the test machine's RAM, with a bump allocator for tables.</summary>
internal sealed class PageTables
{
    public const uint P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;
    public const uint Directory = 0x20000;

    private readonly TestMachine _m;
    private uint _nextTable = Directory + 0x1000;

    public PageTables(TestMachine m, uint identityFlags = P | RW)
    {
        _m = m;

        // The first 2 MiB (tables, stacks, code, stubs) identity-mapped for the kernel.
        for (uint a = 0; a < 0x200000; a += 0x1000)
            Map(a, a, identityFlags);
    }

    /// <summary>Map a 4 KiB page; the directory entry gets P|RW|US so the PTE alone decides, unless <paramref name="pdeFlags"/> says otherwise.</summary>
    public void Map(uint linear, uint physical, uint flags, uint pdeFlags = P | RW | US)
    {
        uint pdeAddr = Directory + ((linear >> 22) * 4);
        uint pde = _m.Memory.Read32(pdeAddr);
        if ((pde & P) == 0 || (pde & PS) != 0)
        {
            pde = _nextTable;
            _nextTable += 0x1000;
        }

        _m.Memory.Write32(pdeAddr, (pde & 0xFFFFF000) | pdeFlags);
        _m.Memory.Write32(PteAddress(linear), (physical & 0xFFFFF000) | flags);
    }

    /// <summary>Map a 4 MiB page (needs CR4.PSE).</summary>
    public void Map4M(uint linear, uint physical, uint flags)
        => _m.Memory.Write32(PdeAddress(linear), (physical & 0xFFC00000) | flags | PS);

    public uint PdeAddress(uint linear) => Directory + ((linear >> 22) * 4);

    public uint PteAddress(uint linear) => (_m.Memory.Read32(PdeAddress(linear)) & 0xFFFFF000) + (((linear >> 12) & 0x3FF) * 4);

    public uint Pde(uint linear) => _m.Memory.Read32(PdeAddress(linear));

    public uint Pte(uint linear) => _m.Memory.Read32(PteAddress(linear));

    public void SetPte(uint linear, uint value) => _m.Memory.Write32(PteAddress(linear), value);

    /// <summary>Load CR3 and turn paging on (with CR0.WP as asked, CR4.PSE for 4 MiB pages).</summary>
    public void Enable(bool wp = false, bool pse = false)
    {
        var cpu = _m.Cpu;
        cpu.Cr4 = pse ? MiniHv.Cpu.Cpu.CR4_PSE : 0;
        cpu.Cr3 = Directory;
        cpu.Cr0 = cpu.Cr0 | MiniHv.Cpu.Cpu.CR0_PG | (wp ? MiniHv.Cpu.Cpu.CR0_WP : 0);
    }
}

/// <summary>An interrupt line for tests: a queue of vectors, acknowledged one at a time.</summary>
internal sealed class FakeInterruptController : IInterruptController
{
    public Queue<byte> Pending { get; } = new();

    public List<byte> Acknowledged { get; } = new();

    public bool HasPendingInterrupt => Pending.Count > 0;

    public byte AcknowledgeInterrupt()
    {
        byte v = Pending.Dequeue();
        Acknowledged.Add(v);
        return v;
    }
}

/// <summary>Small assembler helpers the tests share.</summary>
internal static class AsmExtensions
{
    /// <summary>Load EFLAGS with <paramref name="value"/> through PUSH/POPF.</summary>
    public static void SetFlags(this Assembler a, uint value)
    {
        a.push(value);
        a.popfd();
    }

    /// <summary>Copy EFLAGS into <paramref name="reg"/> through PUSHF/POP.</summary>
    public static void SaveFlags(this Assembler a, AssemblerRegister32 reg)
    {
        a.pushfd();
        a.pop(reg);
    }
}

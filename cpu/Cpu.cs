using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>
/// One i386 processor in protected mode (32- and 16-bit code) and in real-address mode: architectural
/// state, a decoded-block cache, a software TLB in front of the page walk, and exception delivery. The CPU sees guest-physical
/// memory through <see cref="IPhysicalMemory"/> and ports through <see cref="IIoBus"/>; it knows
/// nothing of VMs, sharing or logging.
/// </summary>
public sealed unsafe partial class Cpu : IDisposable
{
    /// <summary>Index of the always-zero pseudo register used for "no base" and "no index" in addresses.</summary>
    internal const int NoReg = 8;

    public const uint CR0_PE = 1u << 0, CR0_MP = 1u << 1, CR0_EM = 1u << 2, CR0_TS = 1u << 3, CR0_ET = 1u << 4,
        CR0_NE = 1u << 5, CR0_WP = 1u << 16, CR0_AM = 1u << 18, CR0_NW = 1u << 29, CR0_CD = 1u << 30, CR0_PG = 1u << 31;

    public const uint CR4_PSE = 1u << 4, CR4_PGE = 1u << 7;

    private readonly IPhysicalMemory _memory;
    private readonly IIoBus _io;

    // General registers EAX..EDI and a zero register at index 8, in native memory: no bounds checks.
    internal readonly uint* R;

    // Segment bases, indexed by SegReg, read on every memory access.
    internal readonly uint* SegBase;

    internal readonly SegmentCache[] Segs = new SegmentCache[6];

    /// <summary>Bit n set when segment register n is not flat and its accesses need limit and type checks.</summary>
    internal int CheckedSegments;

    internal uint EipValue;
    private uint _cr0 = CR0_PE | CR0_ET;
    private uint _cr3;
    private uint _cr4;
    internal uint Cr2Value;
    internal int CplValue;

    public TableRegister Gdtr;
    public TableRegister Idtr;
    public SegmentCache Ldtr;
    public SegmentCache Tr;

    /// <summary>Debug registers DR0-DR7, stored for MOV DRn; no breakpoints are raised from them.</summary>
    public readonly uint[] Dr = new uint[8];

    /// <summary>DRn as MOV from it reads it: DR6's reserved bits (31-16, 11-4) and DR7's bit 10 read as 1.</summary>
    public uint DebugRegister(int n) => Dr[n] | (n == 6 ? 0xFFFF0FF0u : n == 7 ? 0x400u : 0);

    private volatile bool _stopRequested;
    internal bool Halted;

    // Set by an instruction that must end its block early (a write to code in this frame,
    // a stop request, a change of mode): the loop leaves the block after the current instruction.
    internal bool AbortBlock;

    /// <summary>The thread running this CPU counts as running in its group's <see cref="ExclusiveGate"/> (between Join and Leave).</summary>
    internal bool GateJoined;

    /// <summary>Exclusive sections this CPU's thread entered, each stopping every other running member of its group.</summary>
    public long ExclusiveSections { get; internal set; }

    /// <summary>Host time (Stopwatch ticks) its thread waited for an exclusive section to start: the lock, then every other member parked.</summary>
    public long SectionWaitTicks { get; internal set; }

    /// <summary>Host time (Stopwatch ticks) its thread stood parked for another member's section (at a block boundary, or joining a run).</summary>
    public long ParkedTicks { get; internal set; }

    // One instruction after STI or a load of SS sees no interrupt.
    internal bool InterruptShadow;

    /// <summary>The instruction after STI, MOV SS or POP SS is next: no interrupt is taken before it.</summary>
    public bool InInterruptShadow => InterruptShadow;

    private readonly GuestFault _fault = new();

    public Cpu(IPhysicalMemory memory, IIoBus io)
    {
        _memory = memory;
        _io = io;
        Mmu = new WalkingMmu(this, memory);
        R = (uint*)NativeMemory.AllocZeroed(16 * sizeof(uint));
        SegBase = (uint*)NativeMemory.AllocZeroed(8 * sizeof(uint));
        InitTlb();
        InitCodeCache();
        ResetFlat();
    }

    public IInterruptController? InterruptController { get; set; }

    /// <summary>
    /// CPUID leaf 1 EAX: family 5 (Pentium), model 2, stepping 0xC. Of the families with CPUID, TSC, CX8 and an
    /// on-chip APIC, the Pentium is the one whose MSRs MiniHv has: the TSC, and none of
    /// the P6's (no microcode signature 0x8B, no performance counters at 0x186), so kernels leave those alone
    /// (Linux reads 0x8B and probes the P6 PMU only on family 6). Stepping 0xC is past the early steppings'
    /// errata Linux works around (B-step SMP, the APIC's 11AP).
    /// </summary>
    public const uint Signature = 0x0000_052C;

    /// <summary>
    /// CPUID leaf 1 EDX bits: FPU (0), DE (2), PSE (3), TSC (4), MSR (5: RDMSR/WRMSR), PAE (6), CX8 (8), CMOV (15, with FCMOV
    /// since the FPU is present). No MMX, FXSR or SSE. Clearing FPU hides the x87 unit (its instructions then raise
    /// #UD, or #NM with CR0.EM).
    /// </summary>
    public const uint BaseFeatureFlags = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 15);

    /// <summary>CPUID leaf 0x80000001 EDX: NX (20), execute-disable through EFER.NXE under PAE.</summary>
    public const uint ExtendedFeatureFlags = 1u << 20;

    /// <summary>CPUID leaf 1 EDX bit 9: an on-chip local APIC.</summary>
    public const uint FeatureApic = 1u << 9;

    /// <summary>The IA32_APIC_BASE MSR.</summary>
    public const uint ApicBaseMsr = 0x1B;

    /// <summary>What CPUID leaf 1 reports in EDX; a machine with a local APIC adds <see cref="FeatureApic"/>.</summary>
    public uint FeatureFlags { get; set; } = BaseFeatureFlags;

    /// <summary>
    /// What RDMSR 0x1B reads (base, BSP bit 8, enable bit 11), or 0 for a machine without a local APIC, where
    /// the MSR does not exist (#GP).
    /// </summary>
    public uint ApicBase { get; set; }

    /// <summary>The processor's initial APIC ID, which CPUID leaf 1 reports in EBX bits 31-24.</summary>
    public byte InitialApicId { get; set; }

    /// <summary>Who translates linear addresses with paging on: the plain <see cref="WalkingMmu"/> unless a hypervisor installs its own.</summary>
    public IMmu Mmu { get; set; }

    /// <summary>
    /// Guest instructions since creation: each retired instruction, each iteration of a REP string
    /// instruction, and one for an exception delivered where no instruction retired. This is the guest's
    /// clock: its timers and budgets run on it.
    /// </summary>
    public long InstructionsExecuted { get; internal set; }

    /// <summary>The exception being delivered last, for dumps and fault logs.</summary>
    public FaultRecord? LastFault { get; internal set; }

    /// <summary>Called for every exception the CPU delivers (or fails to deliver), before delivery.</summary>
    public Action<FaultRecord>? FaultObserver { get; set; }

    /// <summary>Told of every interrupt and exception delivery attempt, before it changes any state (QEMU's <c>-d int</c>).</summary>
    public Action<DeliveryEvent>? DeliveryObserver { get; set; }

    /// <summary>What the guest did that this core does not model, when Run stopped with <see cref="StopReason.Unsupported"/>.</summary>
    public string? UnsupportedReason { get; internal set; }

    public uint Eax { get => R[0]; set => R[0] = value; }
    public uint Ecx { get => R[1]; set => R[1] = value; }
    public uint Edx { get => R[2]; set => R[2] = value; }
    public uint Ebx { get => R[3]; set => R[3] = value; }
    public uint Esp { get => R[4]; set => R[4] = value; }
    public uint Ebp { get => R[5]; set => R[5] = value; }
    public uint Esi { get => R[6]; set => R[6] = value; }
    public uint Edi { get => R[7]; set => R[7] = value; }
    public uint Eip { get => EipValue; set => EipValue = value; }

    /// <summary>General register by encoding (0 = EAX ... 7 = EDI).</summary>
    public uint GetRegister(int index) => R[index & 7];

    public void SetRegister(int index, uint value) => R[index & 7] = value;

    public uint Cr0
    {
        get => _cr0;
        set => WriteCr0(value);
    }

    public uint Cr2 { get => Cr2Value; set => Cr2Value = value; }

    public uint Cr3
    {
        get => _cr3;
        set
        {
            _cr3 = value;
            PdptesAfterCr3Load();
            if (Mmu.TagsTlbByAddressSpace)
                TranslationEpoch++; // the MMU switches TLB sets (block links stay: LinkedSuccessor checks the set in use)
            else
                FlushTlb();
            Mmu.PagingChanged(PagingChange.Cr3Loaded);
        }
    }

    public uint Cr4
    {
        get => _cr4;
        set
        {
            uint changed = _cr4 ^ value;
            _cr4 = value;
            _ = PdptesAfterControlChange(0, changed);
            UpdateFetchChecks();
            FlushTlb();
            Mmu.PagingChanged(PagingChange.Cr4Changed);
        }
    }

    /// <summary>Current privilege level, 0..3.</summary>
    public int Cpl => CplValue;

    public bool PagingEnabled => (_cr0 & CR0_PG) != 0;

    public SegmentCache GetSegment(SegReg seg) => Segs[(int)seg];

    /// <summary>Ask the CPU to leave Run after the current instruction. Thread-safe.</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        AbortBlock = true;
    }

    public bool IsHalted => Halted;

    /// <summary>Leave the HLT state without an interrupt, as a debugger or a test that moves EIP wants.</summary>
    public void Wake() => Halted = false;

    /// <summary>
    /// The state a multiboot loader leaves: protected mode, paging off, flat 4 GiB segments
    /// with CS=0x08 and data 0x10, CPL 0, interrupts off.
    /// </summary>
    public void ResetFlat()
    {
        ResetCommon(CR0_PE | CR0_ET, i => SegmentCache.Flat((ushort)(i == (int)SegReg.CS ? 0x08 : 0x10), i == (int)SegReg.CS));
        EipValue = 0;
    }

    /// <summary>
    /// What every reset state shares: registers cleared, CR0 as given (CR3, CR4, CR2 zero), CPL 0, EFLAGS with
    /// only its fixed bit, the six segment caches from <paramref name="segment"/>, the vector table at 0 (IDTR
    /// limit 0x3FF), no GDT, the LDTR and TR as a reset leaves them, the TLB flushed and the MMU told.
    /// </summary>
    private void ResetCommon(uint cr0, Func<int, SegmentCache> segment)
    {
        for (int i = 0; i < 16; i++)
            R[i] = 0;
        _cr0 = cr0;
        _cr3 = 0;
        _cr4 = 0;
        _efer = 0;
        UpdateFetchChecks();
        Cr2Value = 0;
        CplValue = 0;
        SetEflags(0x2);
        for (int i = 0; i < 6; i++)
            SetSegmentCache((SegReg)i, segment(i));
        Gdtr = default;
        Idtr = new TableRegister { Base = 0, Limit = 0x3FF };
        // As a reset leaves them (Intel SDM vol. 3, "Processor State Following Power-up, Reset, or INIT"): usable,
        // base 0, limit FFFFh, present; QEMU's dumps show the LDT type and a busy 32-bit TSS.
        Ldtr = new SegmentCache { Limit = 0xFFFF, Attributes = 0x82 };
        Tr = new SegmentCache { Limit = 0xFFFF, Attributes = 0x8B };
        Halted = false;
        InterruptShadow = false;
        FlushTlb();
        Mmu.PagingChanged(PagingChange.Cr0Changed);
    }

    /// <summary>Install a segment register's descriptor cache directly (loader and tests).</summary>
    public void SetSegmentCache(SegReg seg, SegmentCache cache)
    {
        // Block links hold while CS keeps its base, size and flatness (ChainEpoch); a change of privilege alone keeps them.
        bool csReshaped = seg == SegReg.CS && (cache.Base != SegBase[(int)SegReg.CS] || cache.Big != Segs[(int)SegReg.CS].Big);
        int checkedBefore = CheckedSegments;
        Segs[(int)seg] = cache;
        SegBase[(int)seg] = cache.Base;

        // Flat accesses skip every check, so a read-only or code segment in a data register never counts as
        // flat, nor an execute-only CS (a read through it faults).
        if (cache.IsFlat && (seg == SegReg.CS ? cache.IsReadable : cache.IsWritableData))
            CheckedSegments &= ~(1 << (int)seg);
        else
            CheckedSegments |= 1 << (int)seg;
        if (seg == SegReg.CS)
        {
            CplValue = RealMode ? 0 : cache.Selector & 3;
            TranslationEpoch++;
            if (csReshaped || ((checkedBefore ^ CheckedSegments) & (1 << (int)SegReg.CS)) != 0)
                ChainEpoch++;
        }

        if (seg == SegReg.SS)
            FlatStack32 = (CheckedSegments & (1 << (int)SegReg.SS)) == 0 && cache.Big;
        if (seg == SegReg.CS || seg == SegReg.SS)
            SelectTlbForCpl();
    }

    /// <summary>Leave Run at the next safe point, without waiting for the block to end.</summary>
    internal void ClearStopRequest() => _stopRequested = false;

    internal bool StopRequestedFlag => _stopRequested;

    private void WriteCr0(uint value)
    {
        value |= CR0_ET;
        uint changed = _cr0 ^ value;
        _cr0 = value;
        bool pdptesChanged = PdptesAfterControlChange(changed, 0);
        UpdateFetchChecks();
        if ((changed & (CR0_PG | CR0_WP | CR0_PE)) != 0 || pdptesChanged)
        {
            FlushTlb();
            Mmu.PagingChanged(PagingChange.Cr0Changed);
        }
        AbortBlock = true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal GuestFault Fault(int vector, int errorCode = -1)
    {
        _fault.Vector = vector;
        _fault.ErrorCode = errorCode;
        return _fault;
    }

    public void Dispose()
    {
        CloseCompiler(); // what the compile thread still holds for this CPU is dropped
        NativeMemory.Free(R);
        NativeMemory.Free(SegBase);
        FreeTlb();
        FreeCodeCache();
        GC.SuppressFinalize(this);
    }
}

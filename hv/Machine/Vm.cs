using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using MiniHv.Cpu;
using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;
using MiniHv.Hv.Devices.Ide;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Firmware;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;
using Serilog;

namespace MiniHv.Hv.Machine;

/// <summary>What a call to <see cref="Vm.Run"/> left the guest doing.</summary>
public enum VmRunState
{
    /// <summary>The quantum is used up; call Run again.</summary>
    Running,

    /// <summary>Halted until input arrives on COM1 (nothing else can wake it); see <see cref="Vm.WaitForInput"/>.</summary>
    WaitingForInput,

    /// <summary>Stopped for good; see <see cref="Vm.Exit"/>.</summary>
    Exited,

    /// <summary>Stopped for its debugger (<see cref="Vm.Debugger"/>) until it resumes the guest; wait as for input.</summary>
    HeldByDebugger,
}

/// <summary>
/// One guest: its processors with their RAM over the shared machine memory, its PC devices, and a loaded multiboot
/// kernel, Linux bzImage (with its initrd) or boot sector from its disk. Time is the guest's instruction
/// count: the PIT, the local APIC timer, the RTC and the TSC see it pass at
/// <see cref="VmConfig.InstructionsPerSecond"/>, and a halted CPU skips ahead to the next timer event, so a run replays exactly and an idle guest costs no host time. Whatever
/// the guest does, <see cref="Run"/> never throws: a guest that misbehaves, or trips a defect in MiniHv,
/// stops with an <see cref="Exit"/>.
/// </summary>
/// <remarks>
/// <para>
/// The PC: the local APIC at 0xFEE00000 is the CPU's interrupt controller, with the 8259 pair behind its LINT0
/// in virtual wire mode (ExtINT), as a BIOS leaves a PC; the I/O APIC at 0xFEC00000; every device IRQ goes to
/// both the PICs and the I/O APIC (<see cref="IrqFanout"/>), so a kernel that uses either finds its interrupts
/// and a kernel that never touches the APICs sees the PICs exactly as on a PC without them. The BIOS data area
/// and the MP tables are written at boot; the 8042 (status, A20 gate, reset), port 0x92, the parallel port, the
/// IDE primary channel (IRQ 14), the 16550 UART, the PIT, the CMOS/RTC, CGA text and QEMU's debug exit port.
/// </para>
/// </remarks>
/// <remarks>
/// <para>
/// A multiprocessor guest (<see cref="VmConfig.Processors"/>) has a local APIC per processor on an
/// <see cref="ApicBus"/>, an MP table listing them all, and application processors waiting for INIT and STARTUP
/// IPIs. Its processors run in turn on the VM's thread, each for <see cref="ProcessorSlice"/> instructions of
/// virtual time per round, so that every processor's clock is the same at each round's end and a run replays
/// exactly; one processor's stores are seen by the next at once, and every locked instruction is atomic. With
/// <see cref="ProcessorThreads"/> they run at once instead, each on a host thread of its own (Vm.Threads.cs).
/// </para>
/// <para>Not thread-safe: one thread calls it (which may run the guest's application processors on threads of the
/// guest's own). <see cref="RequestStop"/> and COM1 input may come from any thread.</para>
/// </remarks>
public sealed partial class Vm : IDisposable
{
    /// <summary>Exceptions kept for the register dump.</summary>
    public const int RecentFaultCount = 8;

    private readonly ILogger _log;
    private readonly ILogger _faultLogger;
    private readonly Queue<FaultRecord> _dumpFaults = new();
    private readonly AutoResetEvent _inputSignal = new(false);
    private readonly Stopwatch _wallClock = new();
    private readonly LocalApicWindow _lapicWindow;
    private readonly IdeDisk?[] _disks;
    private readonly VirtualCpu[] _processors = [];
    private readonly CpuGroup? _group;
    private VirtualCpu? _active;
    private long _roundStart;
    private volatile bool _stopRequested;
    private volatile bool _inputClosed;
    private bool _resetRequested;
    private bool _yieldRequested;
    private bool _disposed;

    /// <summary>Creates the guest and loads its kernel.</summary>
    /// <param name="config">Image, command line, memory size and limits.</param>
    /// <param name="machine">The pool this guest's frames come from.</param>
    /// <param name="serialOutput">Receives each byte the guest sends on COM1, on the VM's thread.</param>
    /// <param name="log">Where the guest's machine events go; tagged with its name.</param>
    /// <param name="faultLog">Where the guest's fault events go (one structured event per fault); none when null.</param>
    /// <exception cref="InvalidImageException">The image cannot boot in this guest.</exception>
    /// <exception cref="MachineMemoryExhaustedException">The pool cannot hold the kernel.</exception>
    public Vm(VmConfig config, MachineMemory machine, Action<byte> serialOutput, ILogger? log = null, ILogger? faultLog = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(serialOutput);
        Config = config;
        _log = (log ?? Serilog.Core.Logger.None).ForContext("Guest", config.Name);
        _faultLogger = faultLog ?? Serilog.Core.Logger.None;

        bool linux = !config.BootFromDisk && BzImage.LooksLikeLinux(config.Image.Span);
        BzImage? bzImage = linux ? BzImage.Parse(config.Image) : null;
        MultibootImage? image = config.BootFromDisk || linux ? null : MultibootImage.Parse(config.Image);
        if (config.Initrd != null && bzImage == null)
            throw new InvalidImageException(config.BootFromDisk
                ? "an initrd needs a Linux bzImage kernel, and this guest boots from its disk"
                : "an initrd needs a Linux bzImage kernel; this is a multiboot kernel (multiboot modules are not supported)");
        KernelSegments = image?.Segments ?? [];
        if (config.BootFromDisk && config.PrimaryMaster == null)
            throw new InvalidImageException("booting from disk needs a disk image on the primary master (-hda)");
        int processors = config.Processors;
        if (processors is < 1 or > VmConfig.MaxProcessors)
            throw new ArgumentOutOfRangeException(nameof(config), processors, $"a guest has 1 to {VmConfig.MaxProcessors} processors");
        Memory = new GuestPhysicalMemory(machine, config.MemoryBytes, config.MemoryCapBytes >> MachineMemory.FrameShift);
        try
        {
            Io = new IoBus(message => _log.Information("{Guest}: {Message}", config.Name, message));
            Mmio = new MmioBus(message => _log.Information("{Guest}: {Message}", config.Name, message));
            Pic = new Pic8259Pair();
            ApicBus = new ApicBus();
            var lapics = new LocalApic[processors];
            for (int i = 0; i < processors; i++)
            {
                // Only the boot processor's LINT0 has the 8259 pair behind it, as on a PC in virtual wire mode.
                lapics[i] = new LocalApic(extIntController: i == 0 ? Pic : null, apicId: (byte)i,
                    instructionsPerSecond: config.InstructionsPerSecond, bootstrap: i == 0);
                ApicBus.Attach(lapics[i]);
            }

            Lapic = lapics[0];
            // The I/O APIC's ID is the first after the processors' (4 bits: with 16 processors it is 0, as QEMU's).
            IoApic = new IoApic(ApicBus, id: (byte)(processors % 16));
            Irqs = new IrqFanout(Pic, IoApic);

            // The timers read the exact virtual time when the guest talks to them, and a reprogramming ends the
            // CPU's run so the next interrupt is found again: timing never depends on how time is sliced.
            Pit = new Pit8254(Irqs, config.InstructionsPerSecond, now: () => ActiveProcessor.Clock,
                reprogrammed: () => _active?.Cpu.RequestStop());
            _lapicWindow = new LocalApicWindow(Lapic, now: () => ActiveProcessor.Clock,
                reprogrammed: () => _active?.Cpu.RequestStop());
            Mmio.Register(_lapicWindow);
            Mmio.Register(IoApic);
            Memory.Mmio = Mmio;

            Serial = new Uart16550(Irqs, serialOutput);
            Cmos = new CmosRtc(config.MemoryBytes, () => CmosRtc.DefaultTime + Pit.VirtualTime);
            Cga = new CgaText(Memory.ReadByte);
            DebugExit = new DebugExit(_ => _active?.Cpu.RequestStop());
            A20 = new A20Gate();
            Keyboard = new Keyboard8042(A20, RequestReset);
            PortA = new SystemControlPortA(A20, RequestReset);
            Parallel = new ParallelPort();
            _disks = OpenDisks(config);
            Ide = new IdeController(Irqs, _disks[0], _disks[1]);
            Pic.Attach(Io);
            Pit.Attach(Io);
            Serial.Attach(Io);
            Cmos.Attach(Io);
            Cga.Attach(Io);
            DebugExit.Attach(Io);
            Keyboard.Attach(Io);
            PortA.Attach(Io);
            Parallel.Attach(Io);
            Ide.Attach(Io);

            _processors = new VirtualCpu[processors];
            CpuGroup? group = processors > 1 ? new CpuGroup() : null;
            _group = group;
            for (int i = 0; i < processors; i++)
            {
                // A multiprocessor guest's processors reach memory and ports through exclusive sections when they
                // run on threads of their own (Vm.Threads.cs).
                ExclusiveMemory? memory = group != null ? new ExclusiveMemory(this, Memory) : null;
                ExclusiveIoBus? io = group != null ? new ExclusiveIoBus(this, Io) : null;
                var cpu = new Cpu.Cpu(memory ?? (IPhysicalMemory)Memory, io ?? (IIoBus)Io)
                {
                    InterruptController = lapics[i],
                    FeatureFlags = (MiniHv.Cpu.Cpu.BaseFeatureFlags | MiniHv.Cpu.Cpu.FeatureApic) & ~(config.HideFpu ? MiniHv.Cpu.Cpu.FeatureFpu : 0u),
                    ApicBase = LocalApic.DefaultBase | (i == 0 ? ApicBaseBsp : 0) | ApicBaseEnabled,
                    InitialApicId = (byte)i,
                    Tier = config.Tier,
                    PauseLoopLimit = processors > 1 ? PauseLoopLimit : 0,
                };
                var processor = new VirtualCpu(i, cpu, lapics[i]);
                cpu.FaultObserver = fault => RecordFault(processor, fault);
                if (memory != null && io != null)
                {
                    memory.Processor = processor;
                    io.Processor = processor;
                }
                group?.Add(cpu);
                _processors[i] = processor;
            }

            Cpu = _processors[0].Cpu;
            _active = _processors[0];
            ApicBus.NmiRequested += i => _processors[i].Cpu.RaiseNmi();
            ApicBus.InitRequested += Init;
            ApicBus.StartupRequested += Startup;
            A20.Changed += open =>
            {
                foreach (VirtualCpu p in _processors)
                    p.Cpu.A20Enabled = open;
            };
            FpuError = new FpuErrorLatch(Irqs);
            FpuError.Attach(Io);
            foreach (VirtualCpu p in _processors)
            {
                VirtualCpu signaller = p;
                p.Cpu.FpuErrorSignal = () => WithExclusive(signaller, FpuError.Signal);
                Memory.BackingChanged += p.Cpu.FlushTlbFrame;
            }

            Faults = new FaultLog(config.Name, config.Id,
                QuietLinearReader.Create((uint linear, out uint physical) => ActiveProcessor.Cpu.TryTranslateQuiet(linear, out physical), Memory),
                _faultLogger, config.FaultPolicy, processors: config.Processors);
            Memory.FrameBroken += (gfn, fromZero) => HiddenFault(fromZero ? FaultKind.ZeroFrameBreak : FaultKind.CopyOnWriteBreak, gfn, null);
            Memory.FrameSwappedIn += gfn => HiddenFault(FaultKind.SwapIn, gfn, null);
            Memory.BalloonedFrameTouched += gfn => HiddenFault(FaultKind.BalloonTouch, gfn, null);
            // The machine is short of frames: end the quantum at this instruction, so the reclaimer can run at the safepoint.
            Memory.MemoryPressure += () =>
            {
                _yieldRequested = true;
                _active?.Cpu.RequestStop();
            };
            if (config.Paging == PagingMode.Shadow)
            {
                Cpu.Mmu = Shadow = new ShadowMmu(Cpu, Memory);
                for (int i = 1; i < processors; i++)
                {
                    Shadow.AddProcessor(_processors[i].Cpu);
                    _processors[i].Cpu.Mmu = Shadow;
                }

                Shadow.HiddenFault += (kind, gfn, linear) =>
                    HiddenFault(kind == ShadowFault.PageTableWrite ? FaultKind.PageTableWrite : FaultKind.AccessedDirtyUpdate, gfn, linear);
            }

            if (group != null)
            {
                foreach (VirtualCpu p in _processors)
                    p.Cpu.Mmu = new ExclusiveMmu(this, p, p.Cpu.Mmu);
            }
            Serial.InputArrived += () => _inputSignal.Set();

            // What the BIOS would have left: its data area and, in the EBDA, the MP tables that describe this PC.
            BiosDataArea.Write(Memory.Write);
            new MpTableWriter
            {
                LocalApicId = Lapic.ApicId,
                ProcessorCount = processors,
                IoApicId = IoApic.Id,
                CpuSignature = MiniHv.Cpu.Cpu.Signature,
                CpuFeatureFlags = Cpu.FeatureFlags,
            }.Write(Memory.Write);

            if (bzImage != null)
            {
                LinuxEntry linuxEntry = BzImageLoader.Load(Memory, bzImage, config.CommandLine, config.Initrd);
                KernelSegments = [new LoadSegment(linuxEntry.EntryPoint, (uint)bzImage.ProtectedModeOffset, (uint)bzImage.ProtectedModeBytes,
                    (uint)bzImage.ProtectedModeBytes)];
                EnterLinux(linuxEntry);
            }
            else if (image != null)
            {
                Entry = MultibootLoader.Load(Memory, image, config.CommandLine);
                Cpu.ResetFlat();
                Cpu.Eip = Entry.EntryPoint;
                Cpu.Eax = Entry.Eax;
                Cpu.Ebx = Entry.Ebx;
            }
            else
            {
                LoadBootSector();
            }
        }
        catch
        {
            foreach (VirtualCpu? p in _processors)
                p?.Cpu.Dispose();
            Memory.Dispose();
            foreach (IdeDisk? disk in _disks ?? [])
                disk?.Dispose();
            throw;
        }
    }

    /// <summary>IA32_APIC_BASE bit 8: this is the bootstrap processor.</summary>
    public const uint ApicBaseBsp = 1u << 8;

    /// <summary>IA32_APIC_BASE bit 11: the APIC is enabled.</summary>
    public const uint ApicBaseEnabled = 1u << 11;

    /// <summary>Where a BIOS loads the boot sector, and where its stack starts (growing down below it).</summary>
    public const ushort BootSectorAddress = 0x7C00;

    /// <summary>The BIOS drive number of the first hard disk, in DL when the boot sector starts.</summary>
    public const byte FirstHardDisk = 0x80;

    private static IdeDisk?[] OpenDisks(VmConfig config)
    {
        var disks = new IdeDisk?[2];
        DiskImage?[] wanted = [config.PrimaryMaster, config.PrimarySlave];
        for (int i = 0; i < 2; i++)
        {
            if (wanted[i] is not { } image)
                continue;
            try
            {
                disks[i] = image.Open();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                foreach (IdeDisk? open in disks)
                    open?.Dispose();
                throw new InvalidImageException($"cannot open disk image '{image}': {e.Message}", e);
            }
        }

        return disks;
    }

    /// <summary>The 32-bit boot protocol's entry state: flat __BOOT_CS and __BOOT_DS from the loader's GDT, interrupts off, ESI at the zero page.</summary>
    [MemberNotNull(nameof(Entry))]
    private void EnterLinux(LinuxEntry linux)
    {
        Linux = linux;
        Cpu.ResetFlat(); // protected mode, paging off, IF clear, every general register zero
        Cpu.Gdtr = new TableRegister { Base = linux.GdtAddress, Limit = LinuxEntry.GdtLimit };
        Cpu.SetSegmentCache(SegReg.CS, SegmentCache.Flat(LinuxEntry.BootCs, code: true));
        foreach (SegReg data in (SegReg[])[SegReg.DS, SegReg.ES, SegReg.SS, SegReg.FS, SegReg.GS])
            Cpu.SetSegmentCache(data, SegmentCache.Flat(LinuxEntry.BootDs, code: false));
        Cpu.Eip = linux.EntryPoint;
        Cpu.Esi = linux.ZeroPageAddress;
        Entry = new KernelEntry(linux.EntryPoint, 0, linux.EntryPoint, linux.KernelEnd, linux.CommandLineAddress);
    }

    /// <summary>What a BIOS does last: sector 0 of the first hard disk to 0000:7C00, run in real mode with DL = 0x80.</summary>
    [MemberNotNull(nameof(Entry))]
    private void LoadBootSector()
    {
        IdeDisk disk = _disks[0]!;
        var sector = new byte[IdeDisk.SectorSize];
        if (disk.SectorCount == 0 || !disk.ReadSector(0, sector))
            throw new InvalidImageException($"cannot boot from disk '{Config.PrimaryMaster}': it has no sector 0"
                + (disk.LastHostError is { } e ? $" ({e.Message})" : ""));
        if (sector[510] != 0x55 || sector[511] != 0xAA)
            throw new InvalidImageException($"cannot boot from disk '{Config.PrimaryMaster}': sector 0 does not end in the boot signature 55 AA");
        Memory.Write(BootSectorAddress, sector);
        Cpu.ResetReal(cs: 0, ip: BootSectorAddress, sp: BootSectorAddress);
        Cpu.Edx = FirstHardDisk;
        Entry = new KernelEntry(BootSectorAddress, 0, BootSectorAddress, BootSectorAddress + IdeDisk.SectorSize, 0);
    }

    /// <summary>The guest asked the 8042 or port 0x92 to reset the CPU: the run ends, as QEMU's -no-reboot ends it.</summary>
    private void RequestReset()
    {
        _resetRequested = true;
        _active?.Cpu.RequestStop();
    }

    /// <summary>
    /// An INIT IPI: an application processor resets (its local APIC too) and waits for a STARTUP. The boot
    /// processor's INIT would restart the BIOS, which this PC does not have: it is logged and ignored.
    /// </summary>
    private void Init(int index)
    {
        VirtualCpu p = _processors[index];
        if (index == 0)
        {
            _log.Information("{Guest}: INIT IPI to the boot processor ignored (there is no BIOS to restart)", Name);
            return;
        }

        p.Lapic.Reset();
        p.WaitingForStartup = true;
        p.PendingStartup = null;
        if (p == _active || ThreadedRound)
            p.Cpu.RequestStop(); // it sent the INIT to itself, or it runs on its own thread (parked now): it stops at once
    }

    /// <summary>A STARTUP IPI: a processor waiting for one starts at the vector's page when it next runs; otherwise it is ignored, as on a PC.</summary>
    private void Startup(int index, byte vector)
    {
        VirtualCpu p = _processors[index];
        if (p.WaitingForStartup && p.PendingStartup == null)
            p.PendingStartup = vector;
    }

    public VmConfig Config { get; }

    public string Name => Config.Name;

    /// <summary>The boot processor's CPU.</summary>
    public Cpu.Cpu Cpu { get; }

    /// <summary>Every processor, the boot processor first.</summary>
    public IReadOnlyList<VirtualCpu> Processors => _processors;

    /// <summary>The processor running now, or the one that ran last.</summary>
    private VirtualCpu ActiveProcessor => _active ?? _processors[0];

    /// <summary>Instructions of virtual time each processor runs in turn in a multiprocessor guest: short, so a spinlock handed to another processor is seen soon.</summary>
    public const long ProcessorSlice = 1_000;

    /// <summary>The APIC bus joining the local APICs and the I/O APIC.</summary>
    public ApicBus ApicBus { get; }

    public GuestPhysicalMemory Memory { get; }

    public IoBus Io { get; }

    public Pic8259Pair Pic { get; }

    /// <summary>The boot processor's local APIC, at 0xFEE00000: its interrupt controller, with the PICs behind its LINT0.</summary>
    public LocalApic Lapic { get; }

    /// <summary>The I/O APIC at 0xFEC00000, beside the PICs on every device IRQ.</summary>
    public IoApic IoApic { get; }

    /// <summary>The device IRQ lines: each goes to both the PICs and the I/O APIC.</summary>
    public IrqFanout Irqs { get; }

    /// <summary>The memory-mapped devices (the two APICs), reached from the CPU through the guest memory's device area.</summary>
    public MmioBus Mmio { get; }

    /// <summary>The A20 gate, driven by the 8042 and port 0x92; the CPU masks address bit 20 while it is closed.</summary>
    public A20Gate A20 { get; }

    /// <summary>The 8042 keyboard controller at 0x60/0x64 (no keys, no IRQ): its status, A20 and reset.</summary>
    public Keyboard8042 Keyboard { get; }

    /// <summary>System control port A at 0x92: fast A20 and reset.</summary>
    public SystemControlPortA PortA { get; }

    /// <summary>LPT1 at 0x378, always ready; what the guest prints is dropped.</summary>
    public ParallelPort Parallel { get; }

    /// <summary>FERR# to IRQ 13 and its clear at port 0xF0, for x87 errors reported with CR0.NE=0.</summary>
    public FpuErrorLatch FpuError { get; }

    /// <summary>The primary IDE channel (0x1F0-0x1F7, 0x3F6, IRQ 14) with the drives of <see cref="VmConfig.PrimaryMaster"/> and <see cref="VmConfig.PrimarySlave"/>.</summary>
    public IdeController Ide { get; }

    public Pit8254 Pit { get; }

    public Uart16550 Serial { get; }

    public CmosRtc Cmos { get; }

    public CgaText Cga { get; }

    public DebugExit DebugExit { get; }

    /// <summary>The guest's fault log: every fault counted, the last ones kept, and those the policy picks written out.</summary>
    public FaultLog Faults { get; }

    /// <summary>The shadow MMU, or null when the guest runs on the plain walk.</summary>
    public ShadowMmu? Shadow { get; }

    /// <summary>The kernel image's segments, by physical address, as loaded (a bzImage's protected-mode code as one).</summary>
    public IReadOnlyList<LoadSegment> KernelSegments { get; }

    /// <summary>How a Linux kernel was entered (zero page, initrd), or null for a multiboot kernel or a disk boot.</summary>
    public LinuxEntry? Linux { get; private set; }

    /// <summary>Where the kernel was entered (for a disk boot: the boot sector at 0x7C00, no multiboot information).</summary>
    public KernelEntry Entry { get; private set; }

    /// <summary>Why the guest stopped, or null while it can still run.</summary>
    public VmExit? Exit { get; private set; }

    /// <summary>The register dump taken when the guest stopped on a triple fault, unsupported operation or error.</summary>
    public string? FinalRegisterDump { get; private set; }

    /// <summary>Guest instructions retired, by every processor.</summary>
    public long Instructions
    {
        get
        {
            long sum = 0;
            foreach (VirtualCpu p in _processors)
                sum += p.Cpu.InstructionsExecuted;
            return sum;
        }
    }

    /// <summary>Instructions' worth of virtual time skipped while the CPU was halted (the CPU's TSC counts it too).</summary>
    public long IdleInstructions
    {
        get => Cpu.HaltedInstructions;
        private set => Cpu.HaltedInstructions = value;
    }

    /// <summary>Host time spent inside <see cref="Run"/>.</summary>
    public TimeSpan HostTime => _wallClock.Elapsed;

    /// <summary>Page faults the guest's own handlers were given (delivered or not), never the hidden ones.</summary>
    public long GuestPageFaults { get; private set; }

    /// <summary>Exceptions (vectors 0-31) raised in the guest, page faults included.</summary>
    public long GuestExceptions { get; private set; }

    /// <summary>Signalled when COM1 input arrives, input closes or a stop is requested: for a scheduler waiting on several guests.</summary>
    public WaitHandle InputWaitHandle => _inputSignal;


    /// <summary>The debugger attached to this guest, or null. Set before the guest first runs.</summary>
    public Debugging.GuestDebugger? Debugger { get; set; }

    /// <summary>Wake a scheduler waiting on <see cref="InputWaitHandle"/> (a debugger has work for this guest).</summary>
    internal void Wake() => _inputSignal.Set();

    /// <summary>Ask the guest to stop; the next <see cref="Run"/> (or the one in progress) ends it. Thread-safe.</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        foreach (VirtualCpu p in _processors)
            p.Cpu.RequestStop();
        _inputSignal.Set();
    }

    /// <summary>
    /// Stops the guest for good with <paramref name="message"/>, for a reason of the hypervisor's (its swap file
    /// failed). Only between quanta, on the thread that runs it; a guest that already stopped keeps its exit.
    /// </summary>
    public void Abort(VmExitKind kind, string message)
    {
        if (Exit == null)
            Finish(kind, message);
    }

    /// <summary>Queue bytes for the guest's COM1 to receive. Thread-safe.</summary>
    public void SendInput(ReadOnlySpan<byte> bytes) => Serial.EnqueueInput(bytes);

    /// <summary>No more input will ever arrive (stdin reached its end): a guest waiting only for input then stops. Thread-safe.</summary>
    public void CloseInput()
    {
        _inputClosed = true;
        _inputSignal.Set();
    }

    /// <summary>Block until COM1 input arrives, input closes or a stop is requested, or the timeout passes.</summary>
    public bool WaitForInput(TimeSpan timeout) => _inputSignal.WaitOne(timeout);

    /// <summary>
    /// Run the guest for up to <paramref name="quantum"/> instructions of virtual time (executed or skipped
    /// while halted). Never throws for anything the guest does.
    /// </summary>
    public VmRunState Run(long quantum)
    {
        if (Exit != null)
            return VmRunState.Exited;
        if (Debugger != null && Debugger.Hold() && !_stopRequested)
            return VmRunState.HeldByDebugger;
        _wallClock.Start();
        try
        {
            VmRunState state = RunQuantum(quantum);
            if (state == VmRunState.Exited)
                Debugger?.Exited();
            return state;
        }
        catch (MachineMemoryExhaustedException e)
        {
            Finish(VmExitKind.OutOfMemory, e.Message);
            Debugger?.Exited();
        }
        catch (Exception e)
        {
            // A defect of ours, not the guest's: stop this guest only, and keep the evidence.
            _log.Error(e, "{Guest}: internal error at eip {Eip:x8}", Name, Cpu.Eip);
            Finish(VmExitKind.EmulatorError, $"internal error in MiniHv: {e.GetType().Name}: {e.Message}", dump: true);
            Debugger?.Exited();
        }
        finally
        {
            _wallClock.Stop();
        }

        return VmRunState.Exited;
    }

    /// <summary>Run until the guest stops: waits for input when the guest waits for it.</summary>
    public VmExit RunToEnd(long quantum = 1_000_000)
    {
        while (true)
        {
            switch (Run(quantum))
            {
                case VmRunState.Exited:
                    return Exit!;
                case VmRunState.WaitingForInput:
                case VmRunState.HeldByDebugger:
                    WaitForInput(TimeSpan.FromMilliseconds(50));
                    break;
            }
        }
    }

    private VmRunState RunQuantum(long quantum)
    {
        if (_processors.Length > 1)
            return ProcessorThreads && Debugger == null ? RunProcessorsThreaded(quantum) : RunProcessors(quantum);
        long remaining = quantum;
        while (remaining > 0)
        {
            if (_stopRequested)
                return Finish(VmExitKind.Stopped, "stopped");
            if (Debugger != null && Debugger.TakeInterrupt())
                return HoldForDebugger(new Debugging.GuestStop(default, Interrupted: true));
            if (Config.Timeout is TimeSpan limit && _wallClock.Elapsed >= limit)
                return Finish(VmExitKind.TimeLimit, $"time limit of {limit.TotalSeconds:0.###} s reached");

            // Up to the next timer event, so that every timer interrupt is raised at its exact instruction.
            long chunk = Math.Min(remaining, Math.Min(Pit.InstructionsUntilNextEvent(), Lapic.InstructionsUntilNextEvent()));
            if (Config.MaxInstructions is long max)
            {
                long left = max - Cpu.InstructionsExecuted;
                if (left <= 0)
                    return Finish(VmExitKind.InstructionLimit, $"instruction limit of {max} reached");
                chunk = Math.Min(chunk, left);
            }

            Serial.Poll();
            long before = Cpu.InstructionsExecuted;
            StopReason reason = Cpu.Run(chunk);
            long done = Cpu.InstructionsExecuted - before;
            AdvanceTimers();
            remaining -= done;

            switch (reason)
            {
                case StopReason.Halted:
                    if ((Cpu.Eflags & MiniHv.Cpu.Cpu.IF) == 0)
                        return Finish(VmExitKind.HaltedForever, $"halted with interrupts disabled at eip {Cpu.Eip:x8}");
                    long wait = TimerWakeup();
                    if (wait == long.MaxValue)
                    {
                        if (Serial.HasPendingInput)
                            continue;
                        if (_inputClosed)
                            return Finish(VmExitKind.HaltedForever,
                                $"halted at eip {Cpu.Eip:x8} waiting for an interrupt, with no timer running and no input to come");
                        return VmRunState.WaitingForInput;
                    }

                    IdleInstructions += wait;
                    AdvanceTimers();
                    remaining -= wait;
                    break;
                case StopReason.StopRequested:
                    if (AfterStopRequest(Cpu, where: "") is VmRunState stopped)
                        return stopped;
                    break; // the loop head sees a stop request of ours
                case StopReason.TripleFault:
                    return TripleFaulted(Cpu, where: "");
                case StopReason.Debug:
                    return HoldForDebugger(new Debugging.GuestStop(Cpu.LastDebugStop, Interrupted: false));
                case StopReason.Unsupported:
                    return Finish(VmExitKind.Unsupported, $"unsupported: {Cpu.UnsupportedReason}", dump: true);
            }
        }

        return VmRunState.Running;
    }

    /// <summary>
    /// A run that a device or the machine stopped: the guest's debug exit or reset ends it, memory pressure ends the
    /// quantum (so the reclaimer runs at the safepoint); null to go on. <paramref name="where"/> names the processor
    /// in a multiprocessor guest's messages (" on CPU n"), empty otherwise.
    /// </summary>
    private VmRunState? AfterStopRequest(Cpu.Cpu cpu, string where)
    {
        if (DebugExit.ExitStatus is int status)
            return Finish(VmExitKind.DebugExit, $"debug exit with status {status}", debugExitStatus: status);
        if (_resetRequested)
            return Finish(VmExitKind.Reset, $"the guest reset the machine{where} at eip {cpu.Eip:x8} (the run ends, as with QEMU's -no-reboot)");
        if (_yieldRequested)
        {
            _yieldRequested = false;
            return VmRunState.Running;
        }

        return null;
    }

    /// <summary>The processor shut down: the fault it could not deliver goes to the fault log, and the guest ends with every processor dumped.</summary>
    private VmRunState TripleFaulted(Cpu.Cpu cpu, string where)
    {
        if (cpu.LastFault is FaultRecord last)
            Faults.OnTripleFault(last, cpu.InstructionsNow, cpu.GetSegment(SegReg.CS).Base, BitnessOf(cpu));
        return Finish(VmExitKind.TripleFault, $"triple fault{where} at eip {cpu.Eip:x8}", dump: true);
    }

    private VmRunState HoldForDebugger(Debugging.GuestStop stop)
    {
        Debugger!.Stopped(stop);
        return VmRunState.HeldByDebugger;
    }

    /// <summary>Both timers to the machine's time: the instructions retired and those skipped while halted.</summary>
    private void AdvanceTimers()
    {
        long now = Cpu.InstructionsExecuted + IdleInstructions;
        Pit.AdvanceTo(now);
        _lapicWindow.AdvanceTo(now);
    }

    /// <summary>Instructions of virtual time until a timer can wake the halted CPU, or long.MaxValue.</summary>
    private long TimerWakeup()
    {
        // A PIT tick only wakes the CPU if IRQ 0 gets through: the master PIC lets it through to the local APIC's
        // virtual wire, or the I/O APIC's entry for it is unmasked. The APIC timer is long.MaxValue while masked.
        bool pitThroughPic = (Pic.Imr & 1) == 0 && Lapic.PassesExtInt;
        bool pitThroughIoApic = (IoApic.RedirectionEntry(IsaIrqRouting.IoApicPin(0)) & IoApic.Masked) == 0;
        long pit = pitThroughPic || pitThroughIoApic ? Pit.InstructionsUntilNextEvent() : long.MaxValue;
        return Math.Min(pit, Lapic.InstructionsUntilNextEvent());
    }

    private VmRunState Finish(VmExitKind kind, string message, int? debugExitStatus = null, bool dump = false)
    {
        Exit = new VmExit(kind, debugExitStatus, message);
        if (dump)
        {
            FinalRegisterDump = _processors.Length == 1
                ? RegisterDump.Format(Cpu, _dumpFaults)
                : string.Join("\n", _processors.Select(p => $"CPU {p.Index}{(p.WaitingForStartup ? " (waiting for STARTUP)" : "")}:\n"
                    + RegisterDump.Format(p.Cpu, p == ActiveProcessor ? _dumpFaults : null)));
            // In the fault log the dump is a property, so its console line stays one line.
            _faultLogger.ForContext("Registers", FinalRegisterDump)
                .Error("[{Guest}] {Reason}: register dump", Name, message);
        }
        _log.Information("{Guest}: {Message} after {Instructions} instructions", Name, message, Instructions);
        return VmRunState.Exited;
    }

    private void RecordFault(VirtualCpu processor, FaultRecord fault)
    {
        Cpu.Cpu cpu = processor.Cpu;
        if (fault.Vector >= 32 || fault.Interrupt)
            return; // interrupts and system calls are not faults
        using var section = new ExclusiveScope(this, processor);
        CountFault(cpu, fault);
    }

    private void CountFault(Cpu.Cpu cpu, FaultRecord fault)
    {
        GuestExceptions++;
        if (fault.Vector == Vectors.PF)
            GuestPageFaults++;
        if (_dumpFaults.Count == RecentFaultCount)
            _dumpFaults.Dequeue();
        _dumpFaults.Enqueue(fault);
        Faults.OnException(fault, cpu.InstructionsNow, cpu.GetSegment(SegReg.CS).Base, BitnessOf(cpu));
    }

    /// <summary>A fault the hypervisor resolved without the guest seeing it: always counted, written out as the policy says.</summary>
    private void HiddenFault(FaultKind kind, uint gfn, uint? linear)
    {
        Cpu.Cpu cpu = ActiveProcessor.Cpu;
        var site = new HiddenFaultSite(gfn, linear, cpu.CurrentInstructionEip, cpu.Cr3, cpu.Cpl, cpu.InstructionsNow, cpu.Cr2,
            cpu.GetSegment(SegReg.CS).Base, ActiveProcessor.Index);
        Faults.OnHiddenFault(kind, site, Bitness);
    }

    private int Bitness => BitnessOf(ActiveProcessor.Cpu);

    private static int BitnessOf(Cpu.Cpu cpu) => cpu.GetSegment(SegReg.CS).Big ? 32 : 16;

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        StopWorkers();
        foreach (VirtualCpu p in _processors)
            p.Cpu.Dispose();
        Memory.Dispose();
        _inputSignal.Dispose();
        // The guest's writes reach the image files now, if they have not already.
        foreach (IdeDisk? disk in _disks)
        {
            if (disk == null)
                continue;
            if (!disk.Flush())
                _log.Error("{Guest}: cannot write the disk image back: {Message}", Name, disk.LastHostError?.Message);
            disk.Dispose();
        }
    }
}

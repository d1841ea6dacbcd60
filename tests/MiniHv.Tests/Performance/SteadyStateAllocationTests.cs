using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.Cpu;
using MiniHv.Tests.EndToEnd;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Performance;

/// <summary>
/// Kernel paths allocate nothing on the managed heap once warm: a guest switching address spaces, making
/// system calls and taking timer interrupts runs millions of instructions without garbage (which would cost
/// collections in every guest of a run). The one thing that allocates is the decoded-block cache meeting code it
/// has not seen: an interrupt can land on any instruction of a loop, and each new entry point is a new block. So
/// every window must allocate no more than its new blocks explain, and a window with none must allocate nothing.
/// </summary>
public class SteadyStateAllocationTests
{
    private const long Window = 1_000_000;

    /// <summary>A block, its pinned instructions and Iced's decoder for it: what one new block may cost.</summary>
    private const long MaxBytesPerBlock = 4096;

    private static Vm Boot(MachineMemory machine, string append)
    {
        var config = new VmConfig
        {
            Name = "alloc",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, append),
            MemoryBytes = 64 << 20,
        };
        var vm = new Vm(config, machine, _ => { });
        vm.CloseInput();
        return vm;
    }

    [TestCase("prog=pingpong pingpong.rounds=1000000", TestName = "IpcPingPong_AllocatesNothing")]
    [TestCase("prog=yield yield.count=1000000", TestName = "AddressSpaceSwitches_AllocateNothing")]
    [TestCase("prog=syscalls syscalls.count=10000000", TestName = "SystemCalls_AllocateNothing")]
    public void KernelPathsInSteadyState(string append)
    {
        using var machine = new MachineMemory(64L << 20 >> 12);
        using Vm vm = Boot(machine, append);
        while (vm.Instructions < 10_000_000 && vm.Run(100_000) == VmRunState.Running)
        {
            // boot, decode the loops, let the JIT tier up
        }

        long decodedInWindows = 0, interrupts = 0, switches = 0, allocatedInWindows = 0;
        for (int w = 0; w < 10; w++)
        {
            long decoded = vm.Cpu.BlocksDecoded, cr3 = vm.Shadow!.Stats.Cr3Switches, ticks = vm.Pit.Irq0Edges;
            long target = vm.Instructions + Window;
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (vm.Instructions < target && vm.Run(100_000) == VmRunState.Running)
            {
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            long newBlocks = vm.Cpu.BlocksDecoded - decoded;
            Assert.That(vm.Exit, Is.Null, "the guest ran to its end inside the measured windows");
            Assert.That(allocated, Is.LessThanOrEqualTo(newBlocks * MaxBytesPerBlock),
                $"window {w}: {allocated} bytes in {Window} instructions, {newBlocks} blocks decoded");
            decodedInWindows += newBlocks;
            allocatedInWindows += allocated;
            interrupts += vm.Pit.Irq0Edges - ticks;
            switches += vm.Shadow.Stats.Cr3Switches - cr3;
        }

        Assert.That(interrupts, Is.GreaterThan(0), "timer interrupts in the windows");
        Assert.That(decodedInWindows, Is.LessThan(10 * Window / 100_000), "the code is warm: few new blocks");
        TestContext.Out.WriteLine(
            $"{10 * Window} instructions: {switches} CR3 switches, {interrupts} timer interrupts, {decodedInWindows} new blocks, {allocatedInWindows} bytes");
    }

    /// <summary>
    /// Guest exceptions and interrupts in steady state: a ring-3 loop stores to and loads from a page that is not
    /// present (two #PF, which the kernel's handler steps over), makes a system call (INT 0x30) and takes an external
    /// interrupt at every run, each delivered through the IDT with a stack switch from the TSS and returned from with
    /// IRET, while the CPU's fault observer feeds a guest fault log as a VM's does. Nothing may be allocated beyond
    /// what new blocks explain: not the fault's delivery, not the log's record of it.
    /// </summary>
    [Test]
    public void FaultsSystemCallsAndInterrupts_AllocateNothing()
    {
        const uint userCode = 0x400000, untouched = 0x500000, userStack = 0x7F000;
        const uint pageFaultHandler = 0x190000, syscallHandler = 0x190100, timerHandler = 0x190200;
        using var m = new TestMachine(PagingMode.Shadow);
        var tables = new SystemTables(m);
        var paging = new PageTables(m);
        paging.Map(userCode, userCode, PageTables.P | PageTables.US);
        paging.Map(userStack, userStack, PageTables.P | PageTables.RW | PageTables.US);
        paging.Map(untouched + 0x1000, untouched + 0x1000, PageTables.P | PageTables.RW | PageTables.US); // its table exists; its PTE is 0
        paging.Enable();

        m.Assemble(pageFaultHandler, a =>
        {
            a.add(esp, 4);                  // the error code
            a.add(__dword_ptr[esp], 2);     // step over the faulting two-byte MOV
            a.iretd();
        });
        m.Assemble(syscallHandler, a =>
        {
            a.inc(edi);
            a.iretd();
        });
        m.Assemble(timerHandler, a =>
        {
            a.inc(ebp);
            a.iretd();
        });
        tables.SetGate(Vectors.PF, Desc.Gate(SystemTables.KernelCode, pageFaultHandler));
        tables.SetGate(0x30, Desc.Gate(SystemTables.KernelCode, syscallHandler, dpl: 3));
        tables.SetGate(0x40, Desc.Gate(SystemTables.KernelCode, timerHandler));
        m.Assemble(userCode, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(__dword_ptr[ebx], eax);   // #PF, write
            a.mov(ecx, __dword_ptr[ebx]);   // #PF, read
            a.@int(0x30);
            a.inc(esi);
            a.jmp(loop);
        });

        var log = new FaultLog("alloc", 1, QuietLinearReader.Create(m.Cpu.TryTranslateQuiet, m.Memory.Guest!), Serilog.Core.Logger.None);
        m.Cpu.FaultObserver = record =>
        {
            if (record.Vector < 32 && !record.Interrupt)
                log.OnException(record, m.Cpu.InstructionsNow);
        };
        var timer = new OneShotLine(0x40);
        m.Cpu.InterruptController = timer;
        tables.EnterUserMode(userCode, userStack);
        m.Cpu.Ebx = untouched;
        m.Cpu.Eflags = 0x2 | MiniHv.Cpu.Cpu.IF;

        void RunFor(long instructions)
        {
            long target = m.Cpu.InstructionsExecuted + instructions;
            while (m.Cpu.InstructionsExecuted < target)
            {
                timer.Raised = true;
                StopReason stop = m.Cpu.Run(10_000);
                if (stop != StopReason.Budget) // checked without NUnit's constraints, which allocate
                    Assert.Fail($"stopped: {stop}, EIP {m.Cpu.Eip:x8}, last fault {m.Cpu.LastFault}");
            }
        }

        RunFor(100_000); // decode the loop and the handlers, let the JIT tier up
        const long window = 100_000;
        long faults = log.Counters.Seen(FaultKind.PageFault), ticks = timer.Delivered, calls = m.Cpu.Edi, newBlocks = 0;
        for (int w = 0; w < 10; w++)
        {
            long decoded = m.Cpu.BlocksDecoded;
            long before = GC.GetAllocatedBytesForCurrentThread();
            RunFor(window);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            long blocks = m.Cpu.BlocksDecoded - decoded;
            Assert.That(allocated, Is.LessThanOrEqualTo(blocks * MaxBytesPerBlock), $"window {w}: {allocated} bytes, {blocks} blocks decoded");
            newBlocks += blocks;
        }

        faults = log.Counters.Seen(FaultKind.PageFault) - faults;
        FaultEvent last = log.Recent.Snapshot()[^1];
        Assert.Multiple(() =>
        {
            Assert.That(faults, Is.GreaterThan(10 * window / 20), "page faults in the windows");
            Assert.That(m.Cpu.Edi - calls, Is.EqualTo(faults / 2).Within(1), "one system call for every two faults");
            Assert.That(timer.Delivered - ticks, Is.GreaterThanOrEqualTo(10 * window / 10_000), "an interrupt at every run");
            Assert.That(newBlocks, Is.LessThan(10), "the code is warm");
            Assert.That(last.Kind, Is.EqualTo(FaultKind.PageFault), "the log kept the faults");
            Assert.That(last.Cr2, Is.EqualTo(untouched));
            Assert.That(last.Instruction.Disassembly, Is.AnyOf("movl %eax,(%ebx)", "movl (%ebx),%ecx"), "read when the fault happened");
        });
        TestContext.Out.WriteLine($"{10 * window} instructions: {faults} page faults, {m.Cpu.Edi - calls} system calls, {timer.Delivered - ticks} interrupts, {newBlocks} new blocks");
    }

    /// <summary>An interrupt line raised by the test, acknowledged with one vector.</summary>
    private sealed class OneShotLine(byte vector) : IInterruptController
    {
        public bool Raised { get; set; }

        public long Delivered { get; private set; }

        public bool HasPendingInterrupt => Raised;

        public byte AcknowledgeInterrupt()
        {
            Raised = false;
            Delivered++;
            return vector;
        }
    }
}

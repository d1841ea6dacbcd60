using System.Text;
using Iced.Intel;
using MiniHv.Hv.Devices.Apic;
using MiniHv.Hv.Firmware;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.Cli;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The PC a VM builds, seen from guest code: the APICs in their windows, the firmware tables in memory, the
/// local APIC timer on virtual time, the A20 gate, the CPU reset, the IDE disk and the real-mode boot from it.
/// </summary>
public class PcMachineTests
{
    private const uint Lapic = 0xFEE0_0000;
    private const uint IoApicBase = 0xFEC0_0000;
    private const uint Idt = 0x8000;
    private const uint Handler = 0x180000;

    private static Vm Boot(Action<Assembler> code, MachineMemory machine, Action<byte>? output = null, DiskImage? master = null, DiskImage? slave = null)
    {
        var config = new VmConfig
        {
            Name = "pc",
            Image = TinyKernel.Build(a =>
            {
                a.mov(esp, 0x90000);                        // the multiboot state has no stack
                code(a);
            }),
            MemoryBytes = 32L << 20,
            MaxInstructions = 50_000_000,
            PrimaryMaster = master,
            PrimarySlave = slave,
        };
        return new Vm(config, machine, output ?? (_ => { }));
    }

    /// <summary>Every vector through an interrupt gate to <paramref name="handler"/>, written straight into the guest's RAM.</summary>
    private static void InstallIdt(Vm vm, Action<Assembler> handler)
    {
        var gdt = new byte[24];
        BitConverter.GetBytes(0x00CF9A000000FFFFul).CopyTo(gdt, 8);
        BitConverter.GetBytes(0x00CF92000000FFFFul).CopyTo(gdt, 16);
        vm.Memory.Write(0x7000, gdt);
        vm.Cpu.Gdtr = new MiniHv.Cpu.TableRegister { Base = 0x7000, Limit = 23 };
        for (uint v = 0; v < 256; v++)
            vm.Memory.WriteUInt64(Idt + (v * 8), (Handler & 0xFFFF) | (0x08ul << 16) | (0x8Eul << 40) | ((ulong)(Handler >> 16) << 48));
        vm.Cpu.Idtr = new MiniHv.Cpu.TableRegister { Base = Idt, Limit = 0x7FF };
        var a = new Assembler(32);
        handler(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Handler);
        vm.Memory.Write(Handler, stream.ToArray());
    }

    [Test]
    public void LocalAndIoApic_AnswerInTheirWindows_AndCpuidAndTheMsrAgree()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(eax, __dword_ptr[Lapic + 0x20]);      // ID
            a.mov(ebx, __dword_ptr[Lapic + 0x30]);      // version
            a.mov(__dword_ptr[IoApicBase], 1);          // IOREGSEL: version
            a.mov(ecx, __dword_ptr[IoApicBase + 0x10]);
            a.mov(esi, __dword_ptr[Lapic + 0xF0]);      // SVR at reset
            a.push(ecx);
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.mov(edi, eax);
            a.mov(eax, 1);
            a.cpuid();
            a.pop(ecx);
            a.mov(eax, __dword_ptr[Lapic + 0x20]);
            a.hlt();
        }, machine);
        VmExit exit = vm.RunToEnd();
        Assert.Multiple(() =>
        {
            Assert.That(exit.Kind, Is.EqualTo(VmExitKind.HaltedForever), exit.Message);
            Assert.That(vm.Cpu.Eax, Is.Zero, "APIC ID 0");
            Assert.That(vm.Cpu.Ebx >> 24, Is.Zero, "CPUID.1:EBX initial APIC ID");
            Assert.That(vm.Cpu.Ecx, Is.EqualTo(0x0017_0011u), "I/O APIC version 0x11, 24 entries");
            Assert.That(vm.Cpu.Esi, Is.EqualTo(0x1FFu), "software-enabled, spurious vector 0xFF: virtual wire");
            Assert.That(vm.Cpu.Edi, Is.EqualTo(0xFEE0_0900u), "IA32_APIC_BASE: base, BSP, enabled");
            Assert.That(vm.Cpu.Edx & MiniHv.Cpu.Cpu.FeatureApic, Is.Not.Zero, "CPUID.1:EDX.APIC");
            Assert.That(vm.Mmio.UnclaimedPagesTouched, Is.Zero);
        });
    }

    [Test]
    public void MultibootEntry_IsTheStateQemuLeaves_FlatCs08AndData10_PagingAndInterruptsOff()
    {
        // The image records EFLAGS at once (after giving itself a stack: multiboot leaves ESP undefined); no
        // segment is reloaded, as in kernels that never do.
        byte[] image = TinyKernel.Build(a =>
        {
            a.mov(esp, 0x90000);
            a.pushfd();
            a.pop(__dword_ptr[0x500]);
            a.mov(__dword_ptr[0x504], eax);
            a.mov(ecx, __dword_ptr[0x7FFFF0]);              // a flat DS reaches above the kernel
            a.hlt();
        });
        using var machine = new MachineMemory(8192);
        using var vm = new Vm(new VmConfig { Name = "entry", Image = image, MemoryBytes = 32L << 20 }, machine, _ => { });
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.HaltedForever), exit.Message);
        Assert.Multiple(() =>
        {
            Assert.That(vm.Memory.ReadUInt32(0x504), Is.EqualTo(0x2BAD_B002u), "EAX: the multiboot magic");
            Assert.That(vm.Memory.ReadUInt32(0x500) & 0x200, Is.Zero, "IF clear");
            Assert.That(vm.Cpu.Cr0 & 0x8000_0001u, Is.EqualTo(1u), "protected mode, paging off");
            MiniHv.Cpu.SegmentCache cs = vm.Cpu.GetSegment(MiniHv.Cpu.SegReg.CS);
            Assert.That((cs.Selector, cs.Base, cs.Limit, cs.IsCode, cs.Big), Is.EqualTo(((ushort)0x08, 0u, 0xFFFF_FFFFu, true, true)));
            foreach (MiniHv.Cpu.SegReg seg in new[] { MiniHv.Cpu.SegReg.DS, MiniHv.Cpu.SegReg.ES, MiniHv.Cpu.SegReg.FS, MiniHv.Cpu.SegReg.GS, MiniHv.Cpu.SegReg.SS })
            {
                MiniHv.Cpu.SegmentCache d = vm.Cpu.GetSegment(seg);
                Assert.That((d.Selector, d.Base, d.Limit, d.IsWritableData), Is.EqualTo(((ushort)0x10, 0u, 0xFFFF_FFFFu, true)), seg.ToString());
            }
        });
    }

    [Test]
    public void BiosDataAreaAndMpTables_AreWhereKernelsLookForThem()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a => a.hlt(), machine);
        Assert.That(vm.Memory.ReadUInt16(0x40E), Is.EqualTo(0x9FC0), "EBDA segment");
        Assert.That(vm.Memory.ReadUInt16(0x413), Is.EqualTo(639), "base memory KiB");
        Assert.That(vm.Memory.ReadUInt16(0x400), Is.EqualTo(0x3F8), "COM1");

        // The MP spec's search: the first KiB of the EBDA, 16-byte aligned, "_MP_" with a zero checksum.
        uint found = 0;
        for (uint p = 0x9FC00; p < 0xA0000 && found == 0; p += 16)
        {
            var bytes = new byte[16];
            vm.Memory.Read(p, bytes);
            if (Encoding.ASCII.GetString(bytes, 0, 4) == "_MP_" && bytes.Sum(b => b) % 256 == 0)
                found = p;
        }

        Assert.That(found, Is.Not.Zero);
        uint table = vm.Memory.ReadUInt32(found + 4);
        var header = new byte[44];
        vm.Memory.Read(table, header);
        var whole = new byte[BitConverter.ToUInt16(header, 4)];
        vm.Memory.Read(table, whole);
        Assert.That(Encoding.ASCII.GetString(header, 0, 4), Is.EqualTo("PCMP"));
        Assert.That(whole.Sum(b => b) % 256, Is.Zero, "configuration table checksum");
        Assert.That(BitConverter.ToUInt32(header, 36), Is.EqualTo(Lapic));
        Assert.That(whole[44], Is.EqualTo(MpTableWriter.ProcessorEntry));
        Assert.That(BitConverter.ToUInt32(whole, 44 + 8) & MiniHv.Cpu.Cpu.FeatureApic, Is.Not.Zero, "the processor entry's flags are CPUID's");
    }

    [Test]
    public void GuestOnlyUsingThePic_SeesThePitThroughTheVirtualWire()
    {
        // IRQ 0 unmasked on the PIC (vector 0x20 after the usual remap is not needed: vector 8 at reset).
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(al, 0x34);
            a.@out(0x43, al);
            a.mov(al, 0x9C);                    // 1193182 / 100 = 11932 = 0x2E9C: 100 Hz
            a.@out(0x40, al);
            a.mov(al, 0x2E);
            a.@out(0x40, al);
            a.mov(al, 0xFE);
            a.@out(0x21, al);                   // unmask IRQ 0 only
            a.sti();
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.hlt();
            a.jmp(wait);
        }, machine);
        InstallIdt(vm, a =>
        {
            a.mov(al, 0);
            a.@out(0xF4, al);
        });
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.DebugExit), exit.Message);
        Assert.That(vm.Pit.Irq0Edges, Is.EqualTo(1));
        Assert.That(vm.Lapic.TimerInterrupts, Is.Zero);
    }

    [TestCase(1, 1_000_000, 100_000)]       // divide by 1: 10 bus ticks per instruction at 1 GHz and 100 M instructions/s
    [TestCase(0xB, 50_000, 5_000)]
    [TestCase(0x3, 10_000, 16_000)]         // divide by 16
    public void LapicTimer_OneShot_WakesTheHaltedCpu_AtTheProgrammedInstruction(int divide, int count, long expected)
    {
        uint divideValue = divide == 1 ? 0xBu : (uint)divide;
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(__dword_ptr[Lapic + 0xF0], 0x1FF);        // SVR: enabled
            a.mov(__dword_ptr[Lapic + 0x3E0], divideValue);
            a.mov(__dword_ptr[Lapic + 0x320], 0x40);        // LVT timer: vector 0x40, one-shot, unmasked
            a.mov(__dword_ptr[Lapic + 0x380], (uint)count); // start
            a.sti();
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.hlt();
            a.jmp(wait);
        }, machine);
        InstallIdt(vm, a =>
        {
            a.mov(eax, __dword_ptr[Lapic + 0x390]);         // current count: 0 after a one-shot expiry
            a.mov(__dword_ptr[Lapic + 0xB0], 0);            // EOI
            a.mov(al, 0);
            a.@out(0xF4, al);
        });
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.DebugExit), exit.Message);
        Assert.That(vm.Lapic.TimerInterrupts, Is.EqualTo(1));
        Assert.That(vm.Cpu.Eax, Is.Zero);
        // The count started as the 5th instruction retired (time 4); the handler ran its first 4 instructions.
        Assert.That(vm.Instructions + vm.IdleInstructions, Is.EqualTo(4 + expected + 4));
    }

    [Test]
    public void LapicTimer_Periodic_FiresAtTheProgrammedRate_AndCurrentCountIsExactMidRun()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(__dword_ptr[Lapic + 0xF0], 0x1FF);
            a.mov(__dword_ptr[Lapic + 0x3E0], 0xB);         // divide by 1
            a.mov(__dword_ptr[Lapic + 0x320], 0x20040);     // periodic, vector 0x40
            a.mov(__dword_ptr[Lapic + 0x380], 100_000);     // every 10,000 instructions
            a.mov(ebx, __dword_ptr[Lapic + 0x390]);         // one instruction after the start: 10 bus ticks
            a.xor(edi, edi);
            a.sti();
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.cmp(edi, 50);
            var done = a.CreateLabel();
            a.je(done);
            a.hlt();
            a.jmp(wait);
            a.Label(ref done);
            a.mov(al, 0);
            a.@out(0xF4, al);
        }, machine);
        InstallIdt(vm, a =>
        {
            a.inc(edi);
            a.mov(__dword_ptr[Lapic + 0xB0], 0);
            a.iretd();
        });
        VmExit exit = vm.RunToEnd(quantum: 7_919);
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.DebugExit), exit.Message);
        Assert.That(vm.Cpu.Ebx, Is.EqualTo(100_000u - 10u));
        Assert.That(vm.Lapic.TimerInterrupts, Is.EqualTo(50));
        long time = vm.Instructions + vm.IdleInstructions;
        Assert.That(time, Is.InRange(4 + (50 * 10_000), 4 + (50 * 10_000) + 20), "50 periods of 10,000 instructions");
    }

    [Test]
    public void IoApic_RoutesTheUartIrq_ToTheLocalApic_WhileThePicsAreMasked()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(al, 0xFF);
            a.@out(0x21, al);                               // both PICs masked
            a.@out(0xA1, al);
            a.mov(__dword_ptr[IoApicBase], 0x10 + (2 * 4)); // redirection entry 4 (COM1), low word
            a.mov(__dword_ptr[IoApicBase + 0x10], 0x24);    // vector 0x24, fixed, edge, unmasked
            a.mov(__dword_ptr[IoApicBase], 0x11 + (2 * 4));
            a.mov(__dword_ptr[IoApicBase + 0x10], 0);       // destination APIC 0
            a.mov(dx, 0x3F9);
            a.mov(al, 1);
            a.@out(dx, al);                                 // IER: received data
            a.mov(dx, 0x3FC);
            a.mov(al, 0x08);
            a.@out(dx, al);                                 // MCR: OUT2, the IRQ line
            a.sti();
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.hlt();
            a.jmp(wait);
        }, machine);
        InstallIdt(vm, a =>
        {
            a.mov(dx, 0x3F8);
            a.@in(al, dx);
            a.movzx(ebx, al);
            a.mov(__dword_ptr[Lapic + 0xB0], 0);
            a.mov(al, 0);
            a.@out(0xF4, al);
        });
        vm.SendInput("k"u8);
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.DebugExit), exit.Message);
        Assert.That(vm.Cpu.Ebx, Is.EqualTo((uint)'k'));
        Assert.That(vm.IoApic.MessagesDelivered, Is.EqualTo(1));
    }

    [Test]
    public void A20Gate_ClosedThroughThe8042_WrapsAt1MiB()
    {
        // Code at 1 MiB has bit 20 set: with the gate closed it would be fetched from 0. This part runs at 0x8000.
        var low = new Assembler(32);
        low.mov(__dword_ptr[0x200000 + 0x10], 0x1111);
        low.mov(al, 0xDD);                                  // 8042: A20 off
        low.@out(0x64, al);
        low.mov(__dword_ptr[0x300010], 0x2222);             // reaches 0x200010
        low.@in(al, 0x64);
        low.movzx(esi, al);                                 // the status: no data
        low.mov(al, 0xDF);                                  // A20 on
        low.@out(0x64, al);
        low.mov(ebx, __dword_ptr[0x300010]);
        low.hlt();
        var code = new MemoryStream();
        low.Assemble(new StreamCodeWriter(code), 0x8000);
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a => a.jmp(0x8000), machine);
        vm.Memory.Write(0x8000, code.ToArray());
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.HaltedForever), exit.Message);
        Assert.That(vm.Memory.ReadUInt32(0x200010), Is.EqualTo(0x2222u));
        Assert.That(vm.Cpu.Ebx, Is.Zero, "0x300010 itself was never written");
        Assert.That(vm.Cpu.Esi & 1, Is.Zero);
        Assert.That(vm.Cpu.A20Enabled, Is.True);
    }

    [Test]
    public void ResetThroughThe8042_EndsTheRun_AsQemuNoRebootDoes()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a =>
        {
            a.mov(al, 0xFE);
            a.@out(0x64, al);
            a.jmp(TinyKernel.CodeBase);
        }, machine);
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.Reset), exit.Message);
        Assert.That(exit.Reason, Is.EqualTo("reset"));
    }

    [Test]
    public void IdeSlave_ReadsAndWritesTheImageFile_FlushedWhenTheVmEnds()
    {
        string path = Path.GetTempFileName();
        try
        {
            var image = new byte[8 * 512];
            image[512] = 0x5A;                              // sector 1
            File.WriteAllBytes(path, image);
            using (var machine = new MachineMemory(8192))
            using (var vm = Boot(a => IdeRoundTrip(a, lba: 1), machine, slave: DiskImage.File(path)))
            {
                VmExit exit = vm.RunToEnd();
                Assert.That(exit.Kind, Is.EqualTo(VmExitKind.HaltedForever), exit.Message);
                Assert.That(vm.Cpu.Ebx, Is.EqualTo(0x5Au), "read sector 1's first word");
                Assert.That(vm.Cpu.Esi & 0x01, Is.Zero, "no ERR after the write");
            }

            byte[] after = File.ReadAllBytes(path);
            Assert.That(after.Length, Is.EqualTo(8 * 512));
            Assert.That(after[2 * 512], Is.EqualTo(0x5B), "sector 2 written with the word read plus one");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void IdeSnapshot_KeepsTheFileUntouched()
    {
        string path = Path.GetTempFileName();
        try
        {
            var image = new byte[8 * 512];
            image[512] = 0x5A;
            File.WriteAllBytes(path, image);
            using (var machine = new MachineMemory(8192))
            using (var vm = Boot(a => IdeRoundTrip(a, lba: 1), machine, slave: DiskImage.File(path, snapshot: true)))
            {
                vm.RunToEnd();
                Assert.That(vm.Ide.Slave!.OverlaySectorCount, Is.EqualTo(1));
            }

            Assert.That(File.ReadAllBytes(path), Is.EqualTo(image));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void IdeWritePastTheImagesEnd_GetsAnAtaError_NotAHostException()
    {
        using var machine = new MachineMemory(8192);
        using var vm = Boot(a => IdeRoundTrip(a, lba: 7), machine, slave: DiskImage.InMemory(new byte[8 * 512]));
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.HaltedForever), exit.Message);
        Assert.That(vm.Cpu.Esi & 0x01, Is.EqualTo(1u), "ERR: sector 8 is past the end");
        Assert.That(vm.Cpu.Edi & 0x10, Is.EqualTo(0x10u), "IDNF");
    }

    /// <summary>Polled PIO on the slave: read sector <paramref name="lba"/>, write its first word plus one to sector lba + 1.</summary>
    private static void IdeRoundTrip(Assembler a, uint lba)
    {
        void Select(uint sector)
        {
            a.mov(dx, 0x1F6);
            a.mov(al, (byte)(0xF0 | ((sector >> 24) & 0xF)));  // LBA, slave
            a.@out(dx, al);
            a.mov(dx, 0x1F2);
            a.mov(al, 1);
            a.@out(dx, al);
            a.mov(dx, 0x1F3);
            a.mov(al, (byte)sector);
            a.@out(dx, al);
            a.mov(dx, 0x1F4);
            a.mov(al, (byte)(sector >> 8));
            a.@out(dx, al);
            a.mov(dx, 0x1F5);
            a.mov(al, (byte)(sector >> 16));
            a.@out(dx, al);
        }

        void WaitReady()
        {
            var poll = a.CreateLabel();
            a.mov(dx, 0x1F7);
            a.Label(ref poll);
            a.@in(al, dx);
            a.test(al, 0x80);
            a.jnz(poll);
        }

        Select(lba);
        a.mov(dx, 0x1F7);
        a.mov(al, 0x20);                                    // READ SECTORS
        a.@out(dx, al);
        WaitReady();
        a.mov(dx, 0x1F0);
        a.mov(edi, 0x400000);
        a.mov(ecx, 256);
        a.rep.insw();
        a.movzx(ebx, __word_ptr[0x400000]);
        Select(lba + 1);
        a.mov(dx, 0x1F7);
        a.mov(al, 0x30);                                    // WRITE SECTORS
        a.@out(dx, al);
        WaitReady();
        a.mov(__word_ptr[0x400000], bx);
        a.inc(__word_ptr[0x400000]);
        a.mov(esi, 0x400000);
        a.mov(dx, 0x1F0);
        a.mov(ecx, 256);
        a.rep.outsw();
        WaitReady();
        a.@in(al, dx);
        a.movzx(esi, al);
        a.mov(dx, 0x1F1);
        a.@in(al, dx);
        a.movzx(edi, al);
        a.hlt();
    }

    [Test]
    public void DiskBoot_RunsSectorZeroAt7C00_InRealMode_WithDl80()
    {
        var sector = new byte[512];
        var a = new Assembler(16);
        a.mov(bl, dl);                                      // the BIOS drive number
        a.mov(dx, 0x3F8);
        a.mov(al, (byte)'B');
        a.@out(dx, al);
        a.mov(ax, cs);
        a.mov(cx, ax);
        a.mov(al, 0);
        a.@out(0xF4, al);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0x7C00);
        stream.ToArray().CopyTo(sector, 0);
        sector[510] = 0x55;
        sector[511] = 0xAA;
        var output = new MemoryStream();
        using var machine = new MachineMemory(8192);
        var config = new VmConfig
        {
            Name = "boot",
            Image = ReadOnlyMemory<byte>.Empty,
            MemoryBytes = 32L << 20,
            MaxInstructions = 1_000_000,
            BootFromDisk = true,
            PrimaryMaster = DiskImage.InMemory(sector),
        };
        using var vm = new Vm(config, machine, output.WriteByte);
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.DebugExit), exit.Message);
        Assert.That(Encoding.ASCII.GetString(output.ToArray()), Is.EqualTo("B"));
        Assert.That(vm.Cpu.Ebx & 0xFF, Is.EqualTo(0x80u));
        Assert.That(vm.Cpu.Ecx & 0xFFFF, Is.Zero, "CS 0");
        Assert.That(vm.KernelSegments, Is.Empty);
    }

    [Test]
    public void DiskBoot_Int13_StopsTheGuest_SayingThereIsNoBios()
    {
        var sector = new byte[512];
        sector[0] = 0xB4; sector[1] = 0x02;                 // mov ah, 2
        sector[2] = 0xCD; sector[3] = 0x13;                 // int 0x13
        sector[510] = 0x55;
        sector[511] = 0xAA;
        using var machine = new MachineMemory(8192);
        var config = new VmConfig
        {
            Name = "boot",
            Image = ReadOnlyMemory<byte>.Empty,
            BootFromDisk = true,
            PrimaryMaster = DiskImage.InMemory(sector),
        };
        using var vm = new Vm(config, machine, _ => { });
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.Unsupported));
        Assert.That(exit.Message, Does.Contain("no BIOS: int 0x13 (disk services, AH=0x02) at 0000:7c02"));
    }

    [Test]
    public void DiskBoot_WithoutTheBootSignature_IsRefused()
    {
        using var machine = new MachineMemory(8192);
        var config = new VmConfig
        {
            Name = "boot",
            Image = ReadOnlyMemory<byte>.Empty,
            BootFromDisk = true,
            PrimaryMaster = DiskImage.InMemory(new byte[1024]),
        };
        var e = Assert.Throws<InvalidImageException>(() => new Vm(config, machine, _ => { }));
        Assert.That(e!.Message, Does.Contain("55 AA"));
    }
}

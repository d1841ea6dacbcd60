using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Faults;

/// <summary>A fault log wired to a real guest's CPU the way the VM will wire it, without changing the VM.</summary>
public class GuestFaultLogTests
{
    [Test]
    public void JosUserReadOfAddressZero_IsLoggedAsOnePageFaultWithItsInstruction()
    {
        var config = new VmConfig
        {
            Name = "jos",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, "prog=faultread"),
            MemoryBytes = 64 << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        using var machine = new MachineMemory(config.MemoryBytes >> 12);
        using var vm = new Vm(config, machine, _ => { });
        var capture = new LogCapture();
        FaultLog faults = CapturedFaultLog.Attach(vm, capture);
        vm.CloseInput();
        vm.RunToEnd();

        FaultEvent pf = faults.Recent.Snapshot().Single();
        Assert.Multiple(() =>
        {
            Assert.That(pf.Kind, Is.EqualTo(FaultKind.PageFault));
            Assert.That(pf.Eip, Is.EqualTo(0x00800022), "the eip the guest's own trap report prints");
            Assert.That(pf.ErrorCode, Is.EqualTo(4));
            Assert.That(pf.Cpl, Is.EqualTo(3));
            Assert.That(pf.Instruction.Disassembly, Is.EqualTo("movl 0x0,%eax"));
            Assert.That(capture.Events.Select(e => e.RenderMessage()), Is.EqualTo(new[]
            {
                $"[jos] #PF at eip 00800022: read of unmapped 00000000 (user, not-present) cr3 {pf.Cr3:x8} movl 0x0,%eax -> guest",
            }), "timer interrupts and system calls are no faults");
            Assert.That(faults.Counters.GuestTotal, Is.EqualTo(1));
        });
    }
}

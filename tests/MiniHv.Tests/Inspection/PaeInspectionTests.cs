using MiniHv.Cpu;
using MiniHv.Hv.Debugging;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Inspection;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Faults;

namespace MiniHv.Tests.Inspection;

/// <summary>
/// The inspection tools on a PAE guest (the pae test kernel, stopped at its end with PAE paging and EFER.NXE on):
/// the debugger's memory access through 4 KiB and 2 MiB PAE pages, the page-table dump, and the fault log's
/// execute-disable faults.
/// </summary>
[TestFixture(PagingMode.Shadow)]
[TestFixture(PagingMode.Walk)]
public class PaeInspectionTests
{
    private readonly PagingMode _paging;

    public PaeInspectionTests(PagingMode paging) => _paging = paging;

    [Test]
    public void PaeGuest_IsReadByTheDebugger_DumpedWithItsPdptes_AndItsNxFaultsLoggedAsFetches()
    {
        string image = TestImages.TestKernel("pae");
        var config = new VmConfig
        {
            Name = "pae",
            Image = File.ReadAllBytes(image),
            CommandLine = MultibootLoader.QemuCommandLine(image, ""),
            MemoryBytes = 32 << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
            Paging = _paging,
        };
        using var machine = new MachineMemory(config.MemoryBytes >> 12);
        using var vm = new Vm(config, machine, _ => { });
        var capture = new LogCapture();
        FaultLog faults = CapturedFaultLog.Attach(vm, capture);
        vm.CloseInput();
        vm.RunToEnd();
        Assert.That(vm.Exit!.Kind, Is.EqualTo(VmExitKind.DebugExit), vm.Exit.Message);

        Assert.That(DebugMemory.Read(vm, 0x4000_0000, 4), Is.EqualTo(new byte[] { 0x01, 0x00, 0xaa, 0xaa }), "a 4 KiB PAE page");
        Assert.That(DebugMemory.Read(vm, 0x4020_1234, 4), Is.EqualTo(new byte[] { 0x22, 0x22, 0, 0 }), "a 2 MiB page");
        Assert.That(DebugMemory.Read(vm, 0xC000_0000, 4), Is.Empty, "PDPTE 3 is not present");

        string dump = CurrentPageTables.Format(vm.Cpu, GuestMemoryInspection.WordReader(vm.Memory), GuestMemoryInspection.Backing(vm.Memory));
        Assert.That(dump, Does.StartWith($"cr3 {vm.Cpu.Cr3:x8}: PAE, PDPT at {vm.Cpu.Cr3:x8}"));
        Assert.That(dump, Does.Contain("execute-disable on"));
        Assert.That(dump, Does.Match(@"\n  40001000-40001fff  4 KiB +X----A---WP  [0-9a-f]{8}-[0-9a-f]{8}  private\n"), "the NX code page");
        Assert.That(dump, Does.Contain("\n40200000-403fffff    pde 001      ---SDA---WP  01000000-011fffff\n"), "the 2 MiB page");
        Assert.That(dump, Does.Contain("c0000000-ffffffff    pdpte 3                  not present\n"));

        Assert.That(capture.Events.Select(e => e.RenderMessage()),
            Has.Some.Contains("#PF at eip 40001000: fetch from protected 40001000 (supervisor, protection, instruction fetch)"));
        Assert.That(capture.Events.Select(e => e.RenderMessage()),
            Has.Some.Contains("read of protected 40003000 (supervisor, protection, reserved bit)"));
    }
}

using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Tests.EndToEnd;

/// <summary>Lazy allocation seen from a real guest: RAM costs machine memory only once written, and running out stops only that guest.</summary>
public class GuestMemoryTests
{
    [Test]
    public void LargeGuestRunningHello_HoldsOnlyWhatItWrote()
    {
        const long ram = 256L << 20;
        using var machine = new MachineMemory(ram >> 12);
        using var vm = Boot(machine, ram, "prog=hello");
        Assert.That(vm.RunToEnd().Kind, Is.EqualTo(VmExitKind.DebugExit));

        // The kernel writes its page tables, its page array (8 bytes per page) and an environment or two;
        // the rest of its 65536 frames stay on the zero frame.
        Assert.That(vm.Memory.PrivateFrames, Is.LessThan(1024), "under 4 MiB of 256 MiB");
        Assert.That(vm.Memory.ZeroMappedFrames, Is.GreaterThan(64_000));
        Assert.That(machine.FramesInUse, Is.EqualTo(vm.Memory.PrivateFrames));
        Assert.That(machine.IsZeroFrameIntact());
    }

    [Test]
    public void GuestBeyondItsMachineMemory_StopsWithOutOfMemory_AndThePoolIsIntact()
    {
        // Enough frames to boot and start, not enough for lazyalloc's 1024 pages.
        using var machine = new MachineMemory(900);
        using var vm = Boot(machine, 64L << 20, "prog=lazyalloc lazyalloc.pages=1024");
        VmExit exit = vm.RunToEnd();
        Assert.That(exit.Kind, Is.EqualTo(VmExitKind.OutOfMemory), exit.Message);
        Assert.That(exit.Message, Does.Contain("out of machine memory"));
        Assert.That(machine.FramesInUse, Is.EqualTo(900));
        Assert.That(machine.IsZeroFrameIntact());
    }

    private static Vm Boot(MachineMemory machine, long ram, string append)
    {
        var config = new VmConfig
        {
            Name = "jos",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine("jos.elf", append),
            MemoryBytes = ram,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        return new Vm(config, machine, _ => { });
    }
}

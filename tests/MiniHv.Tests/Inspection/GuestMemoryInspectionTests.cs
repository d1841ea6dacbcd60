using MiniHv.Hv.Inspection;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Inspection;

public class GuestMemoryInspectionTests
{
    [Test]
    public void Backing_ComesFromTheGuestsP2m()
    {
        using var pool = new MachineMemory(64);
        using var ram = new GuestPhysicalMemory(pool, 1 << 20);
        ram.WriteByte(0x5000, 1);
        ram.P2m.Remap(7, pool.AllocateZeroed(), writable: false);
        Func<uint, FrameBacking> backing = GuestMemoryInspection.Backing(ram);

        Assert.Multiple(() =>
        {
            Assert.That(backing(5), Is.EqualTo(FrameBacking.Private));
            Assert.That(backing(6), Is.EqualTo(FrameBacking.Zero));
            Assert.That(backing(7), Is.EqualTo(FrameBacking.Shared));
            Assert.That(backing(256), Is.EqualTo(FrameBacking.NotRam));
            Assert.That(backing(uint.MaxValue), Is.EqualTo(FrameBacking.NotRam));
        });
    }

    [Test]
    public void WordReader_ReadsRamWithoutAllocatingAndRefusesWhatIsNotRam()
    {
        using var pool = new MachineMemory(64);
        using var ram = new GuestPhysicalMemory(pool, 1 << 20);
        ram.WriteUInt32(0x2004, 0x0011a007);
        GuestPhysicalWordReader read = GuestMemoryInspection.WordReader(ram);
        long framesBefore = ram.PrivateFrames;

        Assert.Multiple(() =>
        {
            Assert.That(read(0x2004, out uint word) && word == 0x0011a007, Is.True);
            Assert.That(read(0x9000, out uint zero) && zero == 0, Is.True, "an untouched frame reads zeros");
            Assert.That(read(0xffffc, out _), Is.True, "the last word of RAM");
            Assert.That(read(0xffffe, out _), Is.False, "a word that runs past RAM");
            Assert.That(read(0xfffffffe, out _), Is.False, "a word that wraps the address space");
            Assert.That(ram.PrivateFrames, Is.EqualTo(framesBefore));
        });
    }

    [Test]
    public void DumpOfABootedJosGuest_ShowsItsUvptSelfMapAndKernbase_AndChangesNothing()
    {
        var config = new VmConfig
        {
            Name = "jos",
            Image = File.ReadAllBytes(TestImages.Jos),
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, "prog=hello"),
            MemoryBytes = 64 << 20,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        using var machine = new MachineMemory(config.MemoryBytes >> 12);
        using var vm = new Vm(config, machine, _ => { });
        vm.CloseInput();
        vm.RunToEnd();
        uint directory = vm.Cpu.Cr3 & 0xFFFFF000;
        byte[] before = new byte[4096];
        vm.Memory.Read(directory, before);
        long privateBefore = vm.Memory.PrivateFrames;

        string dump = PageTableDump.Format(vm.Cpu.Cr3, (vm.Cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PSE) != 0,
            GuestMemoryInspection.WordReader(vm.Memory), GuestMemoryInspection.Backing(vm.Memory));

        // UVPT (0xef800000) maps the directory through its own entry 0x3be: page 0x3be of that window is the directory.
        const uint selfMap = 0xef800000 + (0x3be << 12);
        byte[] after = new byte[4096];
        vm.Memory.Read(directory, after);
        Assert.Multiple(() =>
        {
            Assert.That(dump, Does.Contain("ef800000-efbfffff    pde 3be      -------U-P  table " + directory.ToString("x8")));
            Assert.That(dump, Does.Contain($"  {selfMap:x8}-{selfMap + 0xfff:x8}  4 KiB        -------U-P  {directory:x8}-{directory + 0xfff:x8}  private"));
            Assert.That(dump, Does.Match(@"\n  f0000000-[0-9a-f]{8}  .*  00000000-"), "KERNBASE maps physical 0");
            Assert.That(after, Is.EqualTo(before), "no Accessed bit set by the dump");
            Assert.That(vm.Memory.PrivateFrames, Is.EqualTo(privateBefore), "no frame allocated by the dump");
        });
    }
}

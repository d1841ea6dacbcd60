using MiniHv.Cli;
using MiniHv.Tests.Loader;

namespace MiniHv.Tests.Cli;

/// <summary><c>minihv run bzImage --initrd FILE --append TEXT -m SIZE</c>, as <c>qemu-system-i386 -kernel bzImage -initrd FILE -append TEXT</c>.</summary>
public class LinuxBootCommandTests
{
    private static readonly byte[] InitrdBytes = BzImageLoaderTests.Initrd(70_000);

    private static string Kernel() => CliRun.TempFile(new BzImageBuilder { Payload = ZeroPageReporter.Build(0x100000) }.Build(), "bzImage");

    private static string Field(CliResult r, string name)
        => r.Serial.Split('\n').FirstOrDefault(l => l.StartsWith(name + "=", StringComparison.Ordinal)) ?? $"(no {name} in)\n{r}";

    private static void AssertBooted(CliResult r, string commandLine)
    {
        Assert.Multiple(() =>
        {
            Assert.That(r.Status, Is.EqualTo(ZeroPageReporter.ExitStatus), r.ToString);
            Assert.That(Field(r, "cmdline"), Is.EqualTo("cmdline=" + commandLine), "the -append text alone, as QEMU gives Linux");
            Assert.That(Field(r, "initrd_sum"), Is.EqualTo($"initrd_sum={ZeroPageReporter.Checksum(InitrdBytes):x8}"));
            Assert.That(Field(r, "ramdisk_size"), Is.EqualTo($"ramdisk_size={InitrdBytes.Length:x8}"));
        });
    }

    [Test]
    public void Run_BootsABzImageWithItsInitrdAndCommandLine()
    {
        string initrd = CliRun.TempFile(InitrdBytes, "initrd.img");
        CliResult r = CliRun.InProcess(["run", Kernel(), "--initrd", initrd, "--append", "console=ttyS0 rdinit=/init", "-m", "32M"]);
        AssertBooted(r, "console=ttyS0 rdinit=/init");
        Assert.That(Field(r, "alt_mem_k"), Is.EqualTo($"alt_mem_k={(32 * 1024) - 1024 - 128:x8}"), "-m sets the RAM the e820 map describes");
    }

    [Test]
    public void GuestSpec_AndConfigFile_TakeTheInitrdToo()
    {
        string initrd = CliRun.TempFile(InitrdBytes, "initrd.img");
        string kernel = Kernel();
        AssertBooted(CliRun.InProcess(["run", "--guest", $"{kernel},initrd={initrd},append=quiet,memory=32M"]), "quiet");

        string config = Path.Combine(Path.GetDirectoryName(kernel)!, "linux.yaml");
        File.WriteAllText(config, $"guests:\n  - image: {kernel}\n    initrd: {initrd}\n    append: root=/dev/ram0\n");
        AssertBooted(CliRun.InProcess(["run", "--config", config]), "root=/dev/ram0");

        CliResult saved = CliRun.InProcess(["run", kernel, "--initrd", initrd, "--save-config", "-"]);
        Assert.That(saved.Output, Does.Contain("initrd: " + initrd), saved.ToString);
    }

    private static void AssertRefused(CliResult r, string reason, int status = ExitStatus.BadImage)
    {
        Assert.That(r.Status, Is.EqualTo(status), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.ToString);
        Assert.That(r.Error, Does.Contain(reason), r.ToString);
    }

    [Test]
    public void BadBzImages_AreRefusedInOneLine_WithStatus4()
    {
        byte[] good = new BzImageBuilder { Payload = ZeroPageReporter.Build(0x100000) }.Build();
        string initrd = CliRun.TempFile(InitrdBytes, "initrd.img");
        CliResult Run(byte[] image, params string[] more) => CliRun.InProcess(["run", CliRun.TempFile(image, "bzImage"), .. more]);

        AssertRefused(Run(good[..(good.Length - 100)]), "truncated bzImage");
        AssertRefused(Run(new BzImageBuilder { Signature = 0 }.Build()), "no setup header signature 'HdrS'");
        AssertRefused(Run(new BzImageBuilder { Protocol = 0x0204 }.Build()), "boot protocol 2.04");
        AssertRefused(Run(new BzImageBuilder { XLoadFlags = 1 }.Build()), "64-bit (x86-64) kernel");
        AssertRefused(Run(good, "--initrd", "/nonexistent/initrd.img"), "cannot read initrd '/nonexistent/initrd.img'");
        AssertRefused(Run(good, "--initrd", CliRun.TempFile(new byte[15 << 20], "big.img"), "-m", "16M"), "too big for the guest's RAM");
        AssertRefused(CliRun.InProcess(["run", CliRun.TempFile(TinyKernel.Build(a => a.hlt())), "--initrd", initrd]),
            "an initrd needs a Linux bzImage kernel; this is a multiboot kernel");
    }
}

using MiniHv.Cli;
using MiniHv.Tests.Loader;

namespace MiniHv.Tests.Cli;

/// <summary><c>minihv run bzImage --system-map FILE</c> (and <c>system-map=</c> in --guest, <c>system_map:</c> in a config): its mistakes, in one line each.</summary>
public class SystemMapOptionTests
{
    private static string Kernel() => CliRun.TempFile(new BzImageBuilder { Payload = ZeroPageReporter.Build(0x100000) }.Build(), "bzImage");

    private static string SystemMap(string text) => CliRun.TempFile(System.Text.Encoding.ASCII.GetBytes(text), "System.map");

    private static void AssertRefused(CliResult r, int status, string reason)
    {
        Assert.That(r.Status, Is.EqualTo(status), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.ToString);
        Assert.That(r.Error, Does.Contain(reason), r.ToString);
    }

    [Test]
    public void AMapThatIsNotAKernelsSystemMap_IsABadImage()
    {
        AssertRefused(CliRun.InProcess(["run", Kernel(), "--system-map", SystemMap("c1000000 T _text\n")]), ExitStatus.BadImage,
            "no phys_startup_32, _etext, __start_rodata, __end_rodata, _sdata, _edata, __bss_start, __bss_stop: not the System.map of an i386 Linux kernel");
        AssertRefused(CliRun.InProcess(["run", Kernel(), "--system-map", "/nonexistent/System.map"]), ExitStatus.BadImage,
            "cannot read System.map '/nonexistent/System.map'");
    }

    [Test]
    public void AMapForAMultibootKernel_OrWithoutAKernel_IsAUsageError()
    {
        string map = SystemMap("01000000 A phys_startup_32\n");
        AssertRefused(CliRun.InProcess(["run", CliRun.TempFile(TinyKernel.Build(a => a.hlt())), "--system-map", map]), ExitStatus.Usage,
            "only a Linux bzImage kernel takes one");
        AssertRefused(CliRun.InProcess(["run", "--system-map", map, "--hda", map]), ExitStatus.Usage,
            "--system-map needs a Linux bzImage IMAGE");
        CliResult empty = CliRun.InProcess(["run", "--guest", "system-map="]);
        Assert.That(empty.Status, Is.EqualTo(ExitStatus.Usage), empty.ToString);
        Assert.That(empty.Error, Does.StartWith("minihv: --guest 'system-map=': system-map needs a file"), empty.ToString);
    }

    [Test]
    public void GuestSpecAndConfigFile_TakeTheMap_AndSaveConfigWritesIt()
    {
        string kernel = Kernel(), bad = SystemMap("nonsense\n");
        AssertRefused(CliRun.InProcess(["run", "--guest", $"{kernel},system-map={bad}"]), ExitStatus.BadImage, "line 1 is not 'ADDRESS TYPE SYMBOL'");

        string config = Path.Combine(Path.GetDirectoryName(kernel)!, "linux-map.yaml");
        File.WriteAllText(config, $"guests:\n  - image: {kernel}\n    system_map: {bad}\n");
        AssertRefused(CliRun.InProcess(["run", "--config", config]), ExitStatus.BadImage, "line 1 is not 'ADDRESS TYPE SYMBOL'");

        CliResult saved = CliRun.InProcess(["run", kernel, "--system-map", bad, "--save-config", "-"]);
        Assert.That(saved.Output, Does.Contain("system_map: " + bad), saved.ToString);
    }
}

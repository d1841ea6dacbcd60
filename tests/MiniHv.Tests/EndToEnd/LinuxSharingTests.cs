using System.Text.Json;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// Two Linux guests of guests/linux from the same image, idling after boot, sharing across guests: the statistics
/// say what the shared frames hold, the kernel's text found through its System.map.
/// </summary>
public class LinuxSharingTests
{
    private static JsonElement RunTwo(params string[] more)
    {
        string stats = CliRun.TempFile([], "linux.json");
        CliResult r = CliRun.InProcess(["run", "--count", "2", LinuxGuestBuild.BzImage, "--initrd", LinuxGuestBuild.Initramfs,
            "--append", "console=ttyS0 idle_seconds=2", "-m", "64M", "--sharing", "all", "--deterministic", "--scan-rate", "200000",
            "--max-instructions", "2000000000", "--stats", stats, "--status", "off", .. more]);
        Assert.That(r.Serial, Does.Contain("init: idling 2 s"), r.ToString);
        Assert.That(r.Error, Does.Not.Contain("the sleep failed"), r.ToString);
        return JsonDocument.Parse(File.ReadAllText(stats)).RootElement.GetProperty("sharing").GetProperty("by_content");
    }

    [Test]
    public void WithItsSystemMap_EveryPageOfTheKernelsText_IsSharedAndCountedAsKernelText()
    {
        LinuxGuestBuild.Require();
        var text = LinuxSystemMap.Segments(File.ReadAllText(LinuxGuestBuild.SystemMap))[0];
        long textPages = ((text.End + 0xFFF) >> 12) - (text.PhysicalAddress >> 12);

        JsonElement byContent = RunTwo("--system-map", LinuxGuestBuild.SystemMap);
        Assert.Multiple(() =>
        {
            Assert.That(byContent.GetProperty("kernel_text").GetInt64(), Is.EqualTo(2 * textPages), "both guests' text, every page");
            Assert.That(byContent.GetProperty("kernel_data").GetInt64(), Is.GreaterThan(0));
            Assert.That(byContent.GetProperty("zero").GetInt64(), Is.GreaterThan(0));
        });
    }

    [Test]
    public void WithoutASystemMap_NothingIsCalledKernelText_ForTheLoadedImageIsOnlyTheCompressedKernel()
    {
        LinuxGuestBuild.Require();
        JsonElement byContent = RunTwo();
        Assert.Multiple(() =>
        {
            Assert.That(byContent.GetProperty("kernel_text").GetInt64(), Is.Zero);
            Assert.That(byContent.GetProperty("kernel_data").GetInt64(), Is.Zero);
            Assert.That(byContent.GetProperty("kernel_other").GetInt64(), Is.GreaterThan(0));
        });
    }
}

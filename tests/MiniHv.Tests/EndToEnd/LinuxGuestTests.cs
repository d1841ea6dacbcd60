using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The Linux guest of guests/linux (built by its build.sh, which the test build does not run: it takes minutes):
/// booted from its bzImage and initramfs, it reaches its /init with a boot log free of the complaints MiniHv
/// used to cause. Skipped where the kernel has not been built.
/// </summary>
public class LinuxGuestTests
{
    private static string Built(string file) => Path.Combine(TestImages.RepositoryRoot, "guests", "linux", "build", file);

    [Test]
    public void Linux_BootsToItsInit_EmulatingItsX87_TrustingTheTsc_WithoutMsrOrPmuComplaints()
    {
        if (!File.Exists(Built("bzImage")) || !File.Exists(Built("initramfs.cpio.gz")))
            Assert.Ignore("no Linux guest built: run 'sh guests/linux/build.sh' (several minutes) to test it");

        var r = CliRun.InProcess(["run", Built("bzImage"), "--initrd", Built("initramfs.cpio.gz"), "--append", "console=ttyS0",
            "-m", "64M", "--max-instructions", "2000000000"]);

        string log = r.Serial.Replace("\r\n", "\n"); // the serial console ends its lines in CR LF
        Assert.Multiple(() =>
        {
            Assert.That(r.Error, Does.Contain("the guest reset the machine"), r.ToString);
            Assert.That(log, Does.Contain("Kernel command line: console=ttyS0\n"));
            Assert.That(log, Does.Contain("RAMDISK: [mem "), "the initrd was found");
            Assert.That(log, Does.Contain("tsc: Detected 100.0"), "calibrated against the PIT at MiniHv's documented rate");
            Assert.That(log, Does.Contain("clocksource: Switched to clocksource tsc\n"));
            Assert.That(log, Does.Contain("init: hello from user space\ninit: Linux 6.1"));
            Assert.That(log, Does.Contain("init: 355/113 = 3.141592\n"), "x87 division in user space, run by the kernel's math emulator through #NM");
            Assert.That(log, Does.Not.Contain("unchecked MSR access").And.Not.Contain("Broken PMU")
                .And.Not.Contain("skew is too large").And.Not.Contain("unstable"));
        });
    }
}

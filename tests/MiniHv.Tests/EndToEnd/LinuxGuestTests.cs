using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The Linux guest of guests/linux (built or taken from the cache by <see cref="LinuxGuestBuild"/>): booted from its
/// bzImage and initramfs, it reaches its /init with a boot log free of the complaints MiniHv used to cause.
/// </summary>
public class LinuxGuestTests
{
    [Test]
    public void Linux_BootsToItsInit_EmulatingItsX87_TrustingTheTsc_WithoutMsrOrPmuComplaints()
    {
        LinuxGuestBuild.Require();

        var r = CliRun.InProcess(["run", LinuxGuestBuild.BzImage, "--initrd", LinuxGuestBuild.Initramfs, "--append", "console=ttyS0",
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
            Assert.That(log, Does.Contain("init: 355/113 = 3.141592\n"), "x87 division in user space");
            Assert.That(log, Does.Not.Contain("unchecked MSR access").And.Not.Contain("Broken PMU")
                .And.Not.Contain("skew is too large").And.Not.Contain("unstable"));
        });
    }
}

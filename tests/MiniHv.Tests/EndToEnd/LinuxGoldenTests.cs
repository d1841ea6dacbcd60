using System.Text.RegularExpressions;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The Linux guest's boot console on MiniHv against QEMU 7.2's for the same bzImage, initramfs and command line
/// (tests/golden/linux/boot.txt, recorded by tests/golden/record-linux.sh with QEMU's CPU and clock set as close
/// to MiniHv's as QEMU allows). Both are compared line by line after the kernel's timestamps are removed and the
/// lines in <see cref="LinesThatDiffer"/> are dropped; every other line, from the e820 map to /init's output, must be QEMU's.
/// </summary>
public class LinuxGoldenTests
{
    /// <summary>The command line of the recording: initramfs_async=0 keeps the unpacking's lines in one place.</summary>
    private const string Append = "console=ttyS0 initramfs_async=0";

    /// <summary>Lines that differ between the two PCs for a reason that is not a fault of MiniHv's.</summary>
    private static readonly Regex LinesThatDiffer = new(string.Join('|',
        // The TSC's rate and what follows from it: MiniHv's TSC runs at a documented 100 MHz; QEMU's under -icount
        // counts virtual nanoseconds (1 GHz). The switch to the TSC clocksource itself is compared.
        @"^tsc: Detected [0-9.]+ MHz processor$",
        @"^clocksource: tsc(-early)?: mask: ",
        @"^Calibrating delay loop ",
        // Nanoseconds since boot: one instruction is 8 ns on QEMU's -icount shift=3, 10 ns on MiniHv.
        @"^sched_clock: Marking stable ",
        // The firmware's tables: SeaBIOS's MP table (in its ROM, "BOCHSCPU") against the one MiniHv writes in the EBDA.
        @"^found SMP MP-table at ",
        @"^MPTABLE: (OEM|Product) ID: ",
        // The I/O APIC's id and version register: QEMU's is id 0, version 0x20; MiniHv's an 82093AA's, id 1, version 0x11.
        @"^IOAPIC\[0\]: apic_id ",
        // QEMU's real-mode setup code asks the BIOS for the video mode; MiniHv enters at the 32-bit entry point with
        // no video information in the zero page, so Linux picks its dummy console (the serial console is the same).
        @"^Console: colour ",
        // MiniHv's 8042 is the controller only (A20, reset): no keyboard or mouse answer behind it.
        @"^serio: i8042 AUX port ",
        @"^input: "), RegexOptions.Multiline);

    /// <summary>The kernel's "[    0.123456] " prefix, when CONFIG_PRINTK_TIME puts one on a line.</summary>
    private static readonly Regex Timestamp = new(@"^\[ *[0-9]+\.[0-9]+\] ", RegexOptions.Multiline);

    private static string[] Comparable(string console)
        => Timestamp.Replace(console.Replace("\r\n", "\n"), "").Split('\n').Where(line => !LinesThatDiffer.IsMatch(line)).ToArray();

    [Test]
    public void Linux_BootConsole_IsQemusApartFromTheLinesThatDifferForAStatedReason()
    {
        LinuxGuestBuild.Require();
        string[] qemu = Comparable(TestImages.Golden("linux", "boot"));

        var r = CliRun.InProcess(["run", LinuxGuestBuild.BzImage, "--initrd", LinuxGuestBuild.Initramfs, "--append", Append,
            "-m", "64M", "--max-instructions", "2000000000"]);
        string[] miniHv = Comparable(r.Serial);

        int first = Enumerable.Range(0, Math.Max(qemu.Length, miniHv.Length))
            .FirstOrDefault(i => i >= qemu.Length || i >= miniHv.Length || qemu[i] != miniHv[i], -1);
        Assert.Multiple(() =>
        {
            Assert.That(r.Error, Does.Contain("the guest reset the machine"), r.ToString);
            Assert.That(first, Is.EqualTo(-1), () =>
                $"line {first + 1} of the compared console differs:\n  QEMU:   {At(qemu, first)}\n  MiniHv: {At(miniHv, first)}\n" +
                "if the kernel changed (guests/linux/kernel.sh, minihv.config, Debian's linux-source-6.1), record the golden " +
                "again with tests/golden/record-linux.sh");
        });
    }

    private static string At(string[] lines, int i) => i < lines.Length ? lines[i] : "(end of the console)";
}

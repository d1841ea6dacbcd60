using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv run</c>'s disks, as QEMU users expect them: <c>--hda</c>/<c>--hdb</c> raw images (written through unless
/// <c>--snapshot</c>), a boot from <c>--hda</c> when there is no kernel IMAGE, each guest with its own disks, and a clear
/// line and status for every image that cannot be used.
/// </summary>
public class DiskOptionsTests
{
    private const string Limit = "50000000";

    /// <summary>A boot sector that asks the BIOS to read the disk (int 0x13, AH = 2): MiniHv has no BIOS.</summary>
    private static string Int13Disk()
    {
        var sector = new byte[1024];
        new byte[] { 0xB4, 0x02, 0xCD, 0x13 }.CopyTo(sector, 0);
        sector[510] = 0x55;
        sector[511] = 0xAA;
        return CliRun.TempFile(sector, "int13.img");
    }

    [Test]
    public void Int13_StopsThatGuestWithAClearMessage_WhileTheOtherGuestFinishes()
    {
        var r = CliRun.InProcess(["run", "--guest", $"hda={Int13Disk()},name=bios", "--guest", $"{TestImages.TestKernel("hello")},name=fine",
            "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(12), r.ToString);
        Assert.That(r.Error, Does.Contain("minihv: bios: unsupported: no BIOS: int 0x13 (disk services, AH=0x02) at 0000:7c02"), r.ToString);
        Assert.That(r.Error, Does.Not.Contain("   at ").And.Not.Contain("SIMD"), "a BIOS call is not an exception");
        Assert.That(r.Serial, Does.Contain("[fine] hello: "), "the other guest ran to its end");
    }

    [Test]
    public void TwoGuests_EachBootTheirOwnDisk_AndEachWritesItsOwnSlave()
    {
        string boot = TestImages.TestKernelFile("bootdisk.img");
        string a = CliRun.TempFile(Pattern(), "a.img"), b = CliRun.TempFile(Pattern(), "b.img");
        var r = CliRun.InProcess(["run",
            "--guest", $"hda={boot},snapshot,name=one", "--guest", $"hda={boot},snapshot,name=two",
            "--guest", $"{TestImages.TestKernel("ide")},hdb={a},name=ide-a", "--guest", $"{TestImages.TestKernel("ide")},hdb={b},name=ide-b",
            "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        foreach (string guest in new[] { "one", "two" })
            Assert.That(r.Serial, Does.Contain($"[{guest}] diskhello: booted from the disk, BIOS drive 0x80\n"));
        foreach (string guest in new[] { "ide-a", "ide-b" })
            Assert.That(r.Serial, Does.Contain($"[{guest}] ide: ok\n"));
        Assert.That(File.ReadAllBytes(a)[(4 * 512) + 1], Is.EqualTo((byte)((4 * 13) + 3 + 1)));
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
    }

    private static byte[] Pattern()
    {
        var bytes = new byte[16 * 512];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)(((i / 512) * 7) + (i % 512));
        return bytes;
    }

    [TestCase(0, "is empty")]
    [TestCase(700, "is 700 bytes, not a whole number of 512-byte sectors")]
    public void BadDiskImage_IsOneLine_AndStatus4(int size, string message)
    {
        string disk = CliRun.TempFile(new byte[size], "bad.img");
        var r = CliRun.InProcess(["run", "--hda", disk]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Is.EqualTo($"minihv: disk image '{disk}' {message}\n"));
    }

    [Test]
    public void MissingDiskImage_IsOneLine_AndStatus4()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("hello"), "--hdb", "/no/such/fs.img"]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain("cannot open disk image '/no/such/fs.img': no such file"));
    }

    [Test]
    public void MissingDiskImage_AsAProcess_GivesNoStackTrace()
    {
        var r = CliRun.AsProcess("run", "--hda", "/no/such/xv6.img");
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
    }

    [TestCase("--hdb {disk}", "boots from its first disk: give --hda FILE")]
    [TestCase("--hda {disk} --count 2", "and hda-1 writes it: give --snapshot")]
    [TestCase("--guest hda={disk} --guest hda={disk},snapshot", "writes it: give --snapshot")]
    [TestCase("--guest hda=", "hda needs a disk image file")]
    [TestCase("--guest hda={disk},snapshot=maybe", "snapshot is on or off")]
    [TestCase("--guest append=x", "has hda=FILE to boot from a disk")]
    public void DiskMistakes_AreOneLine_AndStatus2(string options, string message)
    {
        string disk = CliRun.TempFile(new byte[1024], "hda.img");
        var args = new List<string> { "run" };
        args.AddRange(options.Replace("{disk}", disk, StringComparison.Ordinal).Split(' '));
        var r = CliRun.InProcess(args.ToArray());
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(message));
    }

    [Test]
    public void QemuSpelling_SingleDashHdaAndSnapshot_Work()
    {
        var r = CliRun.InProcess(["run", "-hda", TestImages.TestKernelFile("bootdisk.img"), "-snapshot", "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.EndWith("diskhello: MP table found\n"));
    }

    [Test]
    public void ConfigFile_GuestsWithDisks_BootAndRun()
    {
        string dir = Path.GetDirectoryName(CliRun.TempFile([], "x"))!;
        File.Copy(TestImages.TestKernelFile("bootdisk.img"), Path.Combine(dir, "boot.img"));
        File.WriteAllBytes(Path.Combine(dir, "fs.img"), Pattern());
        File.Copy(TestImages.TestKernel("ide"), Path.Combine(dir, "ide.elf"));
        string config = Path.Combine(dir, "pc.yaml");
        File.WriteAllText(config, """
            snapshot: true
            guests:
              - hda: boot.img
                name: boot
              - image: ide.elf
                hdb: fs.img
                snapshot: false
            """);
        var r = CliRun.InProcess(["run", "--config", config, "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("[boot] diskhello: MP table found\n").And.Contain("[ide] ide: ok\n"));
        Assert.That(File.ReadAllBytes(Path.Combine(dir, "fs.img")), Is.Not.EqualTo(Pattern()), "snapshot: false wins for its guest");
    }
}

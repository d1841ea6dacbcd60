using MiniHv.Cli.Qemu;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv qemu</c> reads qemu-system-i386's options: the probes course Makefiles run, the machine each
/// option describes, and one line with status 2 for everything MiniHv cannot do.
/// </summary>
public class QemuCommandLineTests
{
    private static QemuSettings Settings(params string[] args)
    {
        Assert.That(QemuCommandLine.TryParse(args, out QemuRequest request, out QemuSettings? settings, out string error), Is.True, error);
        Assert.That(request, Is.EqualTo(QemuRequest.Run));
        return settings!;
    }

    private static string Error(params string[] args)
    {
        Assert.That(QemuCommandLine.TryParse(args, out _, out _, out string error), Is.False);
        return error;
    }

    [Test]
    public void HelpProbes_FindTheOptionsJosAndXv6MakefilesGrepFor()
    {
        var r = CliRun.InProcess(["qemu", "-nographic", "-help"]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        string[] lines = r.Output.Split('\n');
        Assert.That(lines, Has.Some.StartsWith("-D "), "JOS: $(QEMU) -nographic -help | grep -q '^-D '");
        Assert.That(lines, Has.Some.StartsWith("-gdb"), "xv6: $(QEMU) -help | grep -q '^-gdb'");
        Assert.That(lines[0], Does.StartWith("QEMU emulator version 7.2"), r.ToString);
    }

    [Test]
    public void Version_IsOneQemuStyleLineNamingMiniHv()
    {
        var r = CliRun.InProcess(["qemu", "-version"]);
        Assert.That(r.Status, Is.EqualTo(0));
        Assert.That(r.Output, Does.Match(@"^QEMU emulator version 7\.2\.\d+ \(MiniHv"), r.ToString);
    }

    [Test]
    public void Xv6QemuNox_BootsFromUnitZero_WithTheFileSystemOnUnitOne()
    {
        QemuSettings s = Settings("-nographic", "-drive", "file=fs.img,index=1,media=disk,format=raw",
            "-drive", "file=xv6.img,index=0,media=disk,format=raw", "-smp", "2", "-m", "512");
        Assert.That(s.RunArguments, Is.EqualTo(new[] { "run", "--guest", "hda=xv6.img,hdb=fs.img", "--status", "off", "-m", "512", "--smp", "2" }));
        Assert.That(s.Serial, Is.EqualTo(QemuSerial.MonitorStdio), "-nographic puts COM1 and the monitor on stdio");
        Assert.That(s.Warnings, Is.Empty);
    }

    [Test]
    public void JosQemuNoxGdb_HoldsTheGuestForGdbOnItsPort()
    {
        QemuSettings s = Settings("-nographic", "-drive", "file=obj/kern/kernel.img,index=0,media=disk,format=raw", "-serial", "mon:stdio",
            "-gdb", "tcp::26000", "-D", "qemu.log", "-smp", "1", "-S");
        Assert.That(s.RunArguments, Is.EqualTo(new[] { "run", "--guest", "hda=obj/kern/kernel.img", "--status", "off", "--gdb", "tcp::26000", "-S" }));
        Assert.That(s.LogPath, Is.EqualTo("qemu.log"));
        Assert.That(s.Warnings, Is.Empty);
    }

    [Test]
    public void LinuxKernelWithAnInitrd_IsOneGuestWithItsInitrd()
    {
        QemuSettings s = Settings("-kernel", "bzImage", "-initrd", "initramfs.cpio.gz", "-append", "console=ttyS0", "-m", "128M", "-nographic");
        Assert.That(s.RunArguments, Is.EqualTo(new[]
        {
            "run", "--guest", "bzImage,append=console=ttyS0,initrd=initramfs.cpio.gz", "--status", "off", "-m", "128M",
        }));
    }

    [TestCase("sockets=1,cores=1,threads=1")]
    [TestCase("1,maxcpus=1")]
    [TestCase("cpus=1")]
    public void SmpForms_ThatMultiplyToOne_RunOneCpu(string smp)
    {
        QemuSettings s = Settings("-kernel", "k.elf", "-smp", smp);
        Assert.That(s.Warnings, Is.Empty);
        Assert.That(s.RunArguments, Does.Not.Contain("--smp"));
    }

    [TestCase("sockets=2,cores=2", "4")]
    [TestCase("4", "4")]
    [TestCase("4,maxcpus=8", "4")]
    [TestCase("cores=1,threads=2", "2")]
    [TestCase("cpus=16,sockets=2,cores=8", "16")]
    public void SmpForms_AboveOne_GiveTheGuestThatManyCpus(string smp, string cpus)
    {
        QemuSettings s = Settings("-kernel", "k.elf", "-smp", smp);
        Assert.That(s.Warnings, Is.Empty);
        Assert.That(s.RunArguments.SkipWhile(a => a != "--smp").Take(2), Is.EqualTo(new[] { "--smp", cpus }));
    }

    [TestCase("17", "at most 16 CPUs")]
    [TestCase("4,sockets=1,cores=2", "is 2, not the 4 CPUs")]
    public void SmpForms_MiniHvCannotRun_AreRefused(string smp, string why)
        => Assert.That(Error("-kernel", "k.elf", "-smp", smp), Does.Contain(why));

    [Test]
    public void KernelAppendNameAndDrives_BecomeOneGuest_CommasKeptInsideValues()
    {
        QemuSettings s = Settings("-kernel", "a,b.elf", "-append", "x=1,y=2", "-name", "guest=lab", "-hda", "d.img", "-snapshot",
            "-m", "size=64M", "-M", "pc,accel=tcg", "-cpu", "qemu32", "-display", "none", "-no-reboot", "-no-shutdown", "-s");
        Assert.That(s.RunArguments, Is.EqualTo(new[]
        {
            "run", "--guest", "a,,b.elf,append=x=1,,y=2,name=lab,hda=d.img,snapshot", "--status", "off", "-m", "64M", "-s",
        }));
        Assert.That(s.NoReboot, Is.True);
    }

    [TestCase(new[] { "-initrd", "initrd.img", "-hda", "a.img" }, "-initrd only allowed with -kernel option")]
    [TestCase(new[] { "-drive", "file=d.qcow2,format=qcow2" }, "MiniHv reads raw disk images only (format=raw), not qcow2")]
    [TestCase(new[] { "-drive", "file=d.img,if=virtio" }, "MiniHv's disks are IDE (if=ide), it has no virtio")]
    [TestCase(new[] { "-drive", "file=d.iso,media=cdrom" }, "not cdrom")]
    [TestCase(new[] { "-hda", "a.img", "-hdc", "c.img" }, "-hdc 'c.img': MiniHv has only the primary IDE channel")]
    [TestCase(new[] { "-kernel", "k.elf", "-enable-kvm" }, "-enable-kvm: not an option MiniHv's qemu-system-i386 front end knows")]
    [TestCase(new[] { "-kernel", "k.elf", "-device", "e1000" }, "MiniHv has no device 'e1000'")]
    [TestCase(new[] { "-kernel", "k.elf", "-device", "isa-debug-exit" }, "give iobase=0xf4")]
    [TestCase(new[] { "-kernel", "k.elf", "-machine", "q35" }, "not q35")]
    [TestCase(new[] { "-kernel", "k.elf", "-cpu", "pentium3" }, "qemu32")]
    [TestCase(new[] { "-kernel", "k.elf", "-d", "in_asm" }, "MiniHv logs 'int' and 'cpu_reset' only, not 'in_asm'")]
    [TestCase(new[] { "-kernel", "k.elf", "-serial", "tcp::4444" }, "-serial 'tcp::4444'")]
    [TestCase(new[] { "-kernel", "k.elf", "-gdb", "1234" }, "-gdb '1234': expected tcp::PORT")]
    [TestCase(new[] { "-kernel", "k.elf", "-S" }, "-S without -gdb, -s or a monitor on stdio")]
    [TestCase(new[] { "-kernel", "k.elf", "-monitor", "stdio" }, "stdio is already COM1's")]
    [TestCase(new[] { "-kernel", "k.elf", "-display", "gtk" }, "MiniHv has no display")]
    [TestCase(new[] { "-append", "x" }, "-append only allowed with -kernel option")]
    [TestCase(new[] { "-nographic" }, "nothing to boot")]
    [TestCase(new[] { "-kernel" }, "-kernel: requires an argument")]
    public void WhatMiniHvCannotDo_IsOneLineNamingTheOption_AndStatus2(string[] args, string message)
    {
        var r = CliRun.InProcess(["qemu", .. args]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), r.ToString);
        Assert.That(r.Error, Does.Contain(message), r.ToString);
    }

    [Test]
    public void AMissingDisk_IsMiniHvsOwnMessage_WithStatus4()
    {
        var r = CliRun.InProcess(["qemu", "-nographic", "-drive", "file=/nonexistent/xv6.img,index=0,media=disk,format=raw"]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        Assert.That(r.Error, Does.Contain("cannot open disk image '/nonexistent/xv6.img'"), r.ToString);
    }

    [Test]
    public void GdbPortInUse_IsAClearError_WithStatus2()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("hello"), "-gdb", $"tcp::{port}", "-S"], stdin: []);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.Contain($"cannot listen on 127.0.0.1:{port}"), r.ToString);
    }
}

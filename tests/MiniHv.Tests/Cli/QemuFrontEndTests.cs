using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv qemu</c> run with the exact command lines course Makefiles pass to qemu-system-i386 (our own kernels
/// in place of theirs), checked for what a grader reads: the serial output, gdb's stop at a hardware breakpoint,
/// the exit status, the monitor behind Ctrl-A, the -D log.
/// </summary>
public partial class QemuFrontEndTests
{
    /// <summary>xv6's <c>make qemu-nox</c>: <c>$(QEMU) -nographic $(QEMUOPTS)</c> with CPUS := 2.</summary>
    private const string Xv6QemuNox =
        "-nographic -drive file=fs.img,index=1,media=disk,format=raw -drive file=xv6.img,index=0,media=disk,format=raw -smp 2 -m 512";

    /// <summary>JOS's <c>make qemu-nox-gdb</c> (what gradelib.py runs), with CPUS=1 and the -D its -help probe adds.</summary>
    private const string JosQemuNoxGdb =
        "-nographic -drive file=obj/kern/kernel.img,index=0,media=disk,format=raw -serial mon:stdio -gdb tcp::26000 -D qemu.log -smp 1 -S";

    private static string[] Words(string line, params (string Theirs, string Ours)[] replacements)
    {
        foreach (var (theirs, ours) in replacements)
            line = line.Replace(theirs, ours, StringComparison.Ordinal);
        return line.Split(' ');
    }

    [Test]
    public void Xv6QemuNox_BootsTheDiskOnUnitZero_WithTwoCpus_AndEndsWithTheGuestsStatus()
    {
        string xv6 = CliRun.TempFile(File.ReadAllBytes(TestImages.TestKernelFile("bootdisk.img")), "xv6.img");
        string fs = CliRun.TempFile(new byte[512 * 1000], "fs.img");
        var r = CliRun.InProcess(["qemu", .. Words(Xv6QemuNox, ("file=fs.img", $"file={fs}"), ("file=xv6.img", $"file={xv6}"))], stdin: []);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.StartWith("bootsect: real mode at 0000:7c00").And.Contain("diskhello: booted from the disk, BIOS drive 0x80\n"), r.ToString);
        Assert.That(r.Serial, Does.Contain("diskhello: MP table found"), r.ToString);
        Assert.That(r.Error, Is.Empty, r.ToString);
    }

    [Test]
    public void JosGrader_SetsZ1AtASymbol_ContinuesToTheStopReply_ReadsTheSerialOutput_AndKillsTheFrontEnd()
    {
        string disk = TestImages.TestKernelFile("bootdisk.img");
        string log = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([1]))!, "qemu.log");
        uint mpFind = Hv.Loader.ElfSymbols.Parse(File.ReadAllBytes(TestImages.TestKernel("diskhello"))).Named("mp_find").Single().Value;
        using var qemu = new QemuProcess(Words(JosQemuNoxGdb, ("obj/kern/kernel.img", disk), ("tcp::26000", "tcp::0"), ("qemu.log", log)));
        int port = qemu.GdbPort();

        using var gdb = new QemuRspClient(port);
        gdb.Send($"Z1,{mpFind:x},1");
        Assert.That(gdb.Reply(), Is.EqualTo("OK"), "the hardware breakpoint is set");
        gdb.Send("c");
        Assert.That(gdb.Reply(), Does.StartWith("T05"), "the stop reply when the breakpoint hits");

        Assert.That(qemu.WaitForOutput("diskhello: A20 open\n"), Is.True, qemu.ToString);
        Assert.That(qemu.Output, Does.Not.Contain("MP table"), "the guest stopped at mp_find, before it printed what mp_find found");
        // gradelib kills QEMU while its gdb connection is still open, the guest stopped at the breakpoint.
        Assert.That(qemu.Terminate(), Is.EqualTo(0), "QEMU exits with 0 on SIGTERM, as the grader's kill sends it through make");
        Assert.That(File.Exists(log), Is.True, "-D creates its file, as QEMU does");
    }

    [Test]
    public void MonStdio_CtrlAC_OpensTheMonitor_WhoseCommandsSeeTheGuest_AndCtrlAC_GoesBackToTheGuest()
    {
        byte[] typed = Encoding.ASCII.GetBytes("\u0001cxp/2wx 0x100000\ninfo registers\nx/2xb 0x100000\nbogus\n\u0001chi\n");
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("echo"), "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"], typed);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        string monitor = WithoutEchoKernelOutput(r.Serial);
        Assert.That(monitor, Does.Contain("(qemu) xp/2wx 0x100000\n0000000000100000: 0x1badb002 0x"), "xp: the multiboot header, physical address in 16 digits");
        Assert.That(monitor, Does.Match(@"\(qemu\) info registers\nEAX=[0-9a-f]{8} EBX="), r.ToString);
        Assert.That(monitor, Does.Contain("(qemu) x/2xb 0x100000\n00100000: 0x02 0xb0\n"), r.ToString);
        Assert.That(monitor, Does.Contain("(qemu) bogus\nunknown command: 'bogus'"), r.ToString);
        Assert.That(r.Serial, Does.Contain("[hi]"), "after Ctrl-A c again the line reached the guest, which echoed it");
    }

    [TestCase("\u0001x", "QEMU: Terminated\n")]
    [TestCase("\u0001cquit\n", "(qemu) quit\n")]
    public void CtrlAX_OrTheMonitorsQuit_EndTheRunWithStatus0(string typed, string shown)
    {
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("echo")], Encoding.ASCII.GetBytes(typed));
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(WithoutEchoKernelOutput(r.Serial), Does.Contain(shown), r.ToString);
        Assert.That(r.Serial, Does.Not.Contain("\u0001"), "the escape is not the guest's");
    }

    /// <summary>
    /// The monitor's lines with the echo kernel's greeting and prompts taken out: the guest runs while the monitor
    /// answers, and as on QEMU its output may land between a monitor prompt and the command echoed after it.
    /// </summary>
    private static string WithoutEchoKernelOutput(string serial) => serial.Replace("echo: type a line\n", "").Replace("> ", "");

    [Test]
    public void DashD_WritesTheResetStateAndEveryDelivery_InQemusLayout_ToTheLogFile_NotToStderr()
    {
        string log = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([1]))!, "qemu.log");
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("faults"), "-d", "int,cpu_reset", "-D", log], stdin: []);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        string text = File.ReadAllText(log);
        Assert.That(text, Does.StartWith("CPU Reset (CPU 0)\nEAX=2badb002 "), "the state the kernel starts in");
        string[] lines = text.Split('\n');
        string[] headers = lines.Where(l => l.Contains(": v=")).ToArray();
        string[] golden = File.ReadAllLines(Path.Combine(TestImages.GoldenDirectory("qemu-log"), "faults-int.txt"));
        Assert.That(headers, Is.EqualTo(golden), "QEMU 7.2's lines for the same exceptions and INTs (tests/golden/record-qemu-log.sh)");
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].Contains(": v="))
                continue;
            Assert.That(lines[i + 1], Does.StartWith("EAX="), "each line is followed by the processor's state");
            Assert.That(lines[i + 3], Does.Match(@"^EIP=[0-9a-f]{8} EFL=[0-9a-f]{8} \[[-DOSZAPC]{7}\] CPL=0 II=0 A20=1 SMM=0 HLT=0$"));
            Assert.That(lines[i + 5], Does.StartWith("CS =0008 00000000 ffffffff 00cf9b00 DPL=0 CS32 [-RA]"));
            bool software = lines[i].Contains(" i=1 ");
            Assert.That(lines[i - 1].StartsWith("check_exception old: 0xffffffff new 0x", StringComparison.Ordinal), Is.EqualTo(!software),
                "QEMU checks exceptions, not INT n");
        }

        Assert.That(text, Does.Contain("\nDR6=ffff0ff0 DR7=00000400\n"), "the debug registers as MOV reads them, as QEMU shows them");
        Assert.That(text, Does.Contain("\nLDT=0000 00000000 0000ffff 00008200 DPL=0 LDT\nTR =0000 00000000 0000ffff 00008b00 DPL=0 TSS32-busy\n"),
            "the kernel loads neither: both as the reset left them, as QEMU 7.2 prints them for this kernel");
        Assert.That(r.Error, Does.Not.Contain("v="), r.ToString);
    }

    [Test]
    public void DashDInt_WithoutDashD_WritesTheDeliveriesOnStderr()
    {
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("faults"), "-d", "int"], stdin: []);
        Assert.That(r.Error, Does.Contain("     0: v=00 e=0000 i=0 cpl=0 IP=0008:"), r.ToString);
    }

    [Test]
    public void DashDInt_ShowsEfer_AsTheGuestSetIt()
    {
        // The pae kernel sets EFER.NXE halfway: its later faults show it, as QEMU's -d int does.
        var r = CliRun.InProcess(["qemu", "-nographic", "-kernel", TestImages.TestKernel("pae"), "-d", "int"], stdin: []);
        Assert.That(r.Error, Does.Contain("\nEFER=0000000000000000\n").And.Contain("\nEFER=0000000000000800\n"), r.ToString);
    }

    [Test]
    public void SerialFile_GetsTheGuestsOutput_AndStdoutStaysEmpty()
    {
        string file = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([1]))!, "com1.txt");
        var r = CliRun.InProcess(["qemu", "-display", "none", "-serial", $"file:{file}", "-kernel", TestImages.TestKernel("hello")]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.Empty);
        Assert.That(File.ReadAllText(file), Does.StartWith("hello: MiniHv test kernel\n"));
    }

    [Test]
    public void MonitorStdio_BesideASerialFile_AnswersOnStdout_WhileCom1GoesToTheFile()
    {
        string file = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([1]))!, "com1.txt");
        var r = CliRun.InProcess(["qemu", "-display", "none", "-serial", $"file:{file}", "-monitor", "stdio", "-kernel", TestImages.TestKernel("echo")],
            Encoding.ASCII.GetBytes("xp/1wx 0x100000\nquit\n"));
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Serial, Does.StartWith("MiniHv's QEMU-style monitor").And.Contain("(qemu) xp/1wx 0x100000\n0000000000100000: 0x1badb002\n"), r.ToString);
        Assert.That(File.ReadAllText(file), Does.Not.Contain("(qemu)"), "the monitor is not COM1's");
    }

    [Test]
    public void DashS_WithoutGdb_HoldsTheGuestUntilTheMonitorsCont()
    {
        string file = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([1]))!, "com1.txt");
        var r = CliRun.InProcess(["qemu", "-display", "none", "-serial", $"file:{file}", "-monitor", "stdio", "-S", "-kernel", TestImages.TestKernel("hello")],
            Encoding.ASCII.GetBytes("info status\nx/1wx 0x100000\ncont\n"));
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("(qemu) info status\nVM status: paused\n"), r.ToString);
        Assert.That(r.Serial, Does.Contain("(qemu) x/1wx 0x100000\n00100000: 0x1badb002\n"), "held before the kernel's first instruction");
        Assert.That(File.ReadAllText(file), Does.StartWith("hello: MiniHv test kernel\n"), "cont let it run to its end");
    }

    [TestCase(true, 0)]
    [TestCase(false, 6)]
    public void TripleFault_EndsWith0UnderNoReboot_AsQemusResetDoes(bool noReboot, int status)
    {
        byte[] kernel = TinyKernel.Build(a =>
        {
            a.mov(Iced.Intel.AssemblerRegisters.esp, 0x90000);
            a.push(0);
            a.push(0);
            a.lidt(Iced.Intel.AssemblerRegisters.__fword_ptr[Iced.Intel.AssemblerRegisters.esp]); // limit 0: nothing can be delivered
            a.ud2();
        });
        string[] args = ["qemu", "-nographic", "-kernel", CliRun.TempFile(kernel)];
        var r = CliRun.InProcess(noReboot ? [.. args, "-no-reboot"] : args, stdin: []);
        Assert.That(r.Status, Is.EqualTo(status), r.ToString);
        Assert.That(r.Error, Does.Contain("triple fault"), r.ToString);
    }

    /// <summary>The front end as a real process, as make starts it: stdin an open pipe, stdout and stderr read as they come.</summary>
    private sealed partial class QemuProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly StringBuilder _error = new();

        public QemuProcess(string[] args)
        {
            string dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "minihv.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            start.ArgumentList.Add(dll);
            start.ArgumentList.Add("qemu");
            foreach (string a in args)
                start.ArgumentList.Add(a);
            _process = Process.Start(start)!;
            Pump(_process.StandardOutput, _output);
            Pump(_process.StandardError, _error);
        }

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        public int GdbPort()
        {
            Match m = Match.Empty;
            Assert.That(WaitFor(_error, text => (m = ListeningLine().Match(text)).Success), Is.True, ToString);
            return int.Parse(m.Groups[1].Value);
        }

        public bool WaitForOutput(string text) => WaitFor(_output, o => o.Contains(text, StringComparison.Ordinal));

        /// <summary>SIGTERM, as make passes on the grader's terminate(); the exit status.</summary>
        public int Terminate()
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
                kill.WaitForExit();
            Assert.That(_process.WaitForExit(60_000), Is.True, "the front end ends on SIGTERM");
            return _process.ExitCode;
        }

        public override string ToString()
        {
            lock (_error)
                return $"stderr:\n{_error}\nstdout:\n{Output}";
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        private static void Pump(StreamReader reader, StringBuilder into)
        {
            var thread = new Thread(() =>
            {
                var buffer = new char[1024];
                int n;
                while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
                {
                    lock (into)
                    {
                        into.Append(buffer, 0, n);
                        Monitor.PulseAll(into);
                    }
                }
            }) { IsBackground = true };
            thread.Start();
        }

        private static bool WaitFor(StringBuilder text, Func<string, bool> found)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            lock (text)
            {
                while (!found(text.ToString()))
                {
                    if (DateTime.UtcNow > deadline)
                        return false;
                    Monitor.Wait(text, TimeSpan.FromMilliseconds(200));
                }

                return true;
            }
        }

        [GeneratedRegex(@"listening on 127\.0\.0\.1:(\d+)")]
        private static partial Regex ListeningLine();
    }
}

using MiniHv.Tests.EndToEnd;
using MiniHv.Tests.Loader;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cli;

/// <summary><c>minihv run</c> as a user meets it: transcripts on stdout, QEMU's exit statuses, clear one-line errors.</summary>
public class RunCommandTests
{
    [Test]
    public void TestKernel_PrintsItsQemuTranscript_AndExitsWithQemusStatus()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("hello"), "--append", "console=ttyS0 answer=42  two-spaces", "-m", "64M"]);
        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("kernels", "hello")), r.ToString);
        Assert.That(r.Status, Is.EqualTo(1), "debug exit with 0 is QEMU's status 1");
        Assert.That(r.Error, Is.Empty);
    }

    [Test]
    public void Stdin_ReachesTheGuestsSerialPort()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("echo")], "hello, world\n"u8.ToArray());
        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("kernels", "echo")), r.ToString);
        Assert.That(r.Status, Is.EqualTo(1));
    }

    [Test]
    public void GuestWaitingForInputThatNeverComes_StopsWhenStdinEnds()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("echo")], []);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Error, Does.Contain("no input to come"));
    }

    [Test]
    public void TripleFault_PrintsARegisterDump_AndExitsWith6()
    {
        // An IDT of limit 0: the #UD cannot be delivered (#GP), nor can that (#DF), nor the double fault.
        byte[] kernel = TinyKernel.Build(a =>
        {
            a.mov(esp, 0x90000);
            a.push(0);
            a.push(0);
            a.lidt(__fword_ptr[esp]);   // base 0, limit 0
            a.mov(eax, 0x11223344);
            a.ud2();
        });
        var r = CliRun.InProcess(["run", CliRun.TempFile(kernel)]);
        Assert.That(r.Status, Is.EqualTo(6), r.ToString);
        Assert.That(r.Error, Does.Contain("triple fault at eip 00100012"));
        Assert.That(r.Error, Does.Contain("EAX=11223344"));
        Assert.That(r.Error, Does.Contain("IDT=     00000000 00000000"));
        Assert.That(r.Error, Does.Contain("fault v=06 Invalid Opcode at eip=00100012"));
        Assert.That(r.Error, Does.Contain("fault v=08(0x0000) Double Fault"));
    }

    [Test]
    public void InstructionLimit_StopsARunawayGuest_WithStatus8()
    {
        byte[] kernel = TinyKernel.Build(a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.inc(eax);
            a.jmp(spin);
        });
        var r = CliRun.InProcess(["run", CliRun.TempFile(kernel), "--max-instructions", "1000000"]);
        Assert.That(r.Status, Is.EqualTo(8), r.ToString);
        Assert.That(r.Error, Does.Contain("instruction limit of 1000000 reached"));
    }

    [Test]
    public void TimeLimit_StopsARunawayGuest_WithStatus8()
    {
        byte[] kernel = TinyKernel.Build(a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        var r = CliRun.InProcess(["run", CliRun.TempFile(kernel), "--timeout", "0.2"]);
        Assert.That(r.Status, Is.EqualTo(8), r.ToString);
        Assert.That(r.Error, Does.Contain("time limit of 0.2 s reached"));
    }

    [Test]
    public void HaltWithInterruptsOff_EndsTheRun_WithStatus0()
    {
        byte[] kernel = TinyKernel.Build(a =>
        {
            a.cli();
            a.hlt();
        });
        var r = CliRun.InProcess(["run", CliRun.TempFile(kernel)]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Error, Does.Contain("halted with interrupts disabled at eip 00100002"));
    }

    public static IEnumerable<TestCaseData> BadImages() => MultibootLoaderTests.BadImages()
        .Select(c => new TestCaseData(c.Arguments[0], c.Arguments[1]).SetName(c.TestName!.Replace("BadImage_IsRefusedWithAClearMessage", "Run_BadImage")));

    [TestCaseSource(nameof(BadImages))]
    public void BadImage_GivesOneClearLine_AndStatus4(byte[] image, string messagePart)
    {
        var r = CliRun.InProcess(["run", CliRun.TempFile(image), "-m", "64M"]);
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(messagePart));
        Assert.That(r.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.ToString);
    }

    [Test]
    public void MissingImage_NamesThePath_AndExitsWith4()
    {
        var r = CliRun.InProcess(["run", "/no/such/kernel.elf"]);
        Assert.That(r.Status, Is.EqualTo(4));
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain("/no/such/kernel.elf"));
    }

    [TestCase("--frobnicate", "unknown option '--frobnicate'")]
    [TestCase("-m 0", "--memory '0'")]
    [TestCase("-m 1M", "from 2 MiB")]
    [TestCase("-m 4G", "3.5 GiB")]
    [TestCase("-m 64Q", "--memory '64Q'")]
    [TestCase("-m 1000001K", "4 KiB pages")]
    [TestCase("--max-instructions 0", "--max-instructions must be a positive count")]
    [TestCase("--max-instructions lots", "lots")]
    [TestCase("--timeout -1", "--timeout must be a positive number")]
    [TestCase("--scan-rate 0", "--scan-rate must be a positive number of frames per second, or auto")]
    [TestCase("--scan-rate sometimes", "--scan-rate must be a positive number of frames per second, or auto")]
    [TestCase("--scan-threads 0", "--scan-threads must be from 1 to 64")]
    public void BadOption_GivesAClearMessage_AndStatus2(string options, string messagePart)
    {
        var args = new List<string> { "run" };
        args.AddRange(options.Split(' '));
        args.Add(TestImages.TestKernel("hello"));
        var r = CliRun.InProcess(args.ToArray());
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(messagePart));
    }

    [Test]
    public void NoImage_SaysSo_AndStatus2()
    {
        var r = CliRun.InProcess(["run"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
    }

    [Test]
    public void AsAProcess_ABadImageGivesNoStackTrace()
    {
        var r = CliRun.AsProcess("run", CliRun.TempFile([0x7F, (byte)'E', (byte)'L']));
        Assert.That(r.Status, Is.EqualTo(4), r.ToString);
        CliRun.AssertCleanError(r);
    }

    [Test]
    public void AsAProcess_TheGuestTranscriptIsStdout()
    {
        var r = CliRun.AsProcess("run", TestImages.TestKernel("timer"), "-m", "32M");
        Assert.That(r.Output, Is.EqualTo(TestImages.Golden("kernels", "timer")), r.ToString);
        Assert.That(r.Status, Is.EqualTo(1));
    }

    [Test]
    public void Demo_RunsFourGuestsWithSharing_AndSummarises()
    {
        var r = CliRun.InProcess([]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        foreach (string guest in new[] { "jos-1", "jos-2", "jos-3", "jos-4" })
        {
            Assert.That(r.Serial, Does.Contain($"[{guest}] dedupwork: done: 20 rounds, 200 page rewrites, 0 mismatches"));
            Assert.That(r.Serial, Does.Contain($"[{guest}] jos: no runnable environments, halting"));
        }

        Assert.That(r.Output, Does.Contain("Sharing (Linux KSM's counters)").And.Contain("machine_frames_in_use"));
        Assert.That(r.Output, Does.Match(@"pages_shared +│ +[1-9]"), "the four kernels share frames");
        Assert.That(r.Output, Does.Contain("│ jos-4 │ debug_exit │"));
    }

    [Test]
    public void Help_ShowsEachOptionsDefaultOnce()
    {
        var r = CliRun.InProcess(["run", "--help"]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        string[] lines = r.Output.Split('\n');
        foreach (string line in lines)
            Assert.That(System.Text.RegularExpressions.Regex.Matches(line, @"\[default: ").Count, Is.LessThanOrEqualTo(1), line);
        Assert.That(r.Output, Does.Contain("in parallel mode [default: the number of cores]\n"), "not this machine's count");
        Assert.That(r.Output, Does.Contain("slower when they do not [default: 1000000]"), "--scan-rate");
        Assert.That(r.Output, Does.Contain("N/s; all are counted [default: none]"));
    }
}

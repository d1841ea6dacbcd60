using System.Net.Sockets;
using System.Text;
using MiniHv.Hv.Debugging;
using MiniHv.Tests.Cli;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Debugging;

/// <summary>The stub against a hand-driven client: replies per the protocol, and a client that misbehaves or hangs up harms no guest.</summary>
public class GdbStubProtocolTests
{
    [Test]
    public void Stub_AnswersPerTheProtocol_AndTheGuestRunsOnWhenTheClientHangsUpMidPacket()
    {
        var run = new BackgroundRun("run", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "--gdb", "tcp::0", "-S");
        using (var client = new RspTestClient(run.Port))
        {
            client.SendRaw("line noise\r\n");
            client.SendRaw("$qC#00");
            Assert.That(client.ReadAck(), Is.EqualTo('-'), "a bad checksum is refused");
            Assert.That(client.Ask("qSupported:multiprocess+;swbreak+"), Does.Contain("PacketSize=4000").And.Contain("qXfer:features:read+"));
            Assert.That(client.Ask("?"), Is.EqualTo("T05thread:1;"), "held before its first instruction");
            Assert.That(client.Ask("qAttached"), Is.EqualTo("1"));
            Assert.That(client.Ask("qfThreadInfo"), Is.EqualTo("m1"));
            Assert.That(client.Ask("qsThreadInfo"), Is.EqualTo("l"));
            Assert.That(client.Ask("vMustReplyEmpty"), Is.Empty, "an unknown packet gets the empty reply");
            Assert.That(client.Ask("vCont?"), Is.EqualTo("vCont;c;C;s;S"));

            string registers = client.Ask("g");
            Assert.That(registers, Has.Length.EqualTo(2 * I386Registers.FileSize));
            Assert.That(registers[(8 * 8)..(9 * 8)], Is.EqualTo("0c001000"), "EIP is the multiboot entry 0010000c, little-endian");
            Assert.That(client.Ask("p8"), Is.EqualTo("0c001000"));
            Assert.That(client.Ask("m100000,4"), Is.EqualTo("02b0ad1b"), "paging is off: linear is physical, the multiboot magic");
            Assert.That(client.Ask("mfffff000,4"), Is.EqualTo("E14"), "beyond RAM");
            Assert.That(client.Ask("m100000"), Is.EqualTo("E01"), "a malformed packet");
            Assert.That(client.Ask("P0=78563412"), Is.EqualTo("OK"));
            Assert.That(client.Ask("p0"), Is.EqualTo("78563412"));
            Assert.That(client.Ask("P0=00000000"), Is.EqualTo("OK"));
            Assert.That(client.Ask("qXfer:features:read:target.xml:0,20"), Does.StartWith("m<?xml"));
            Assert.That(client.Ask("qXfer:features:read:other.xml:0,20"), Does.StartWith("E"));
            Assert.That(client.Ask("Z9,0,1"), Is.Empty, "a trap kind we do not have");
            Assert.That(client.Ask("qRcmd," + RspPacket.TextToHex("no such thing")), Does.StartWith("O"));
            client.SendRaw("$m100000,"); // and hang up inside the packet
        }

        CliResult result = run.Finish();
        Assert.That(result.Status, Is.EqualTo(1), result.ToString);
        Assert.That(result.Serial, Does.Contain("[00001000] exiting gracefully"), "the guest ran to its end after the client left");
        Assert.That(result.Error, Does.Contain("listening on"));
    }

    [Test]
    public void MultiprocessorGuest_EachProcessorIsAThread_WhoseRegistersHgSelects()
    {
        var run = new BackgroundRun("run", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "-smp", "2", "--gdb", "tcp::0", "-S");
        using (var client = new RspTestClient(run.Port))
        {
            Assert.That(client.Ask("?"), Is.EqualTo("T05thread:1;"), "held on the boot processor");
            Assert.That(client.Ask("qfThreadInfo"), Is.EqualTo("m1,2"));
            Assert.That(client.Ask("qThreadExtraInfo,2"), Is.EqualTo(RspPacket.TextToHex("CPU 1")));
            Assert.That(client.Ask("T2"), Is.EqualTo("OK"));
            Assert.That(client.Ask("T3"), Is.EqualTo("E01"), "no third processor");
            Assert.That(client.Ask("Hg3"), Is.EqualTo("E01"));

            Assert.That(client.Ask("Hg2"), Is.EqualTo("OK"));
            Assert.That(client.Ask("p8"), Is.EqualTo("00000000"), "the application processor waits for STARTUP, at its reset EIP");
            Assert.That(client.Ask("Hg1"), Is.EqualTo("OK"));
            Assert.That(client.Ask("p8"), Is.EqualTo("0c001000"), "the boot processor at the multiboot entry");
            Assert.That(client.Ask("qC"), Is.EqualTo("QC1"));
            client.Send("vCont;c:2");
            Assert.That(client.ReadAck(), Is.EqualTo('+'));
        }

        CliResult result = run.Finish();
        Assert.That(result.Status, Is.EqualTo(1), result.ToString);
        Assert.That(result.Serial, Does.Contain("[00001000] exiting gracefully"), result.ToString);
    }

    [Test]
    public void RandomBytesFromAClient_HarmNoGuest()
    {
        // Noise made of the protocol's own characters (so some of it frames as packets, some with good sums),
        // leaving out the letters of packets that kill the guest or change its state.
        const string alphabet = "$$##+-0123456789abcdef?gmpqHTz,:;}\u0003";
        var random = new Random(11);
        var noise = new StringBuilder();
        for (int i = 0; i < 200_000; i++)
            noise.Append(alphabet[random.Next(alphabet.Length)]);
        var run = new BackgroundRun("run", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "--count", "2", "--gdb", "tcp::0", "-S");
        using (var client = new RspTestClient(run.Port))
        {
            try
            {
                client.SendRaw(noise.ToString());
            }
            catch (IOException)
            {
                // the stub may drop a client this confused: that is an answer too
            }
        }

        CliResult result = run.Finish();
        Assert.That(result.Status, Is.EqualTo(1), result.ToString);
        Assert.That(result.Serial, Does.Contain("[jos-1] [00001000] exiting gracefully").And.Contain("[jos-2] [00001000] exiting gracefully"));
    }

    [Test]
    public void CtrlC_StopsARunningGuest_AndKillEndsIt()
    {
        // A guest that runs until stopped: the parent yields to a spinning child a hundred million times.
        var run = new BackgroundRun("run", TestImages.Jos, "--append", "prog=spin spin.yields=100000000", "-m", "32M", "--gdb", "tcp::0");
        using (var client = new RspTestClient(run.Port))
        {
            Assert.That(client.Ask("?"), Is.EqualTo("T05thread:1;"), "a client that connects finds the guest stopped");
            client.Send("vCont;c:1");
            Assert.That(client.ReadAck(), Is.EqualTo('+'));
            client.SendRaw("\u0003");
            Assert.That(client.ReadPacket(), Is.EqualTo("T05thread:1;"), "Ctrl-C: stopped, with SIGTRAP as QEMU reports it");
            Assert.That(client.Ask("QStartNoAckMode"), Is.EqualTo("OK"));
            client.Send("s");
            Assert.That(client.ReadPacket(), Is.EqualTo("T05thread:1;"), "a step, with no ack any more");
            client.Send("k");
        }

        CliResult result = run.Finish();
        Assert.That(result.Error, Does.Contain("jos: stopped"), result.ToString);
    }

    [Test]
    public void Stub_AtAPortInUse_IsAOneLineErrorWithStatus2()
    {
        using var taken = new TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        CliResult r = CliRun.InProcess(["run", TestImages.TestKernel("hello"), "--gdb", $"tcp::{port}"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.Contain($"--gdb: cannot listen on 127.0.0.1:{port}"));
        CliRun.AssertCleanError(r);
    }

    [TestCase("--gdb", "1234", "expected tcp::PORT or tcp:ADDRESS:PORT")]
    [TestCase("--gdb", "tcp::70000", "port '70000' is not a number from 0 to 65535")]
    [TestCase("--gdb", "tcp:nowhere:1234", "'nowhere' is not an IPv4 address")]
    [TestCase("-S", null, "-S needs --gdb or -s")]
    [TestCase("--gdb-guest", "x", "--gdb-guest needs --gdb or -s")]
    public void BadGdbOptions_AreOneLineErrorsWithStatus2(string option, string? value, string message)
    {
        string[] args = value == null ? ["run", TestImages.TestKernel("hello"), option] : ["run", TestImages.TestKernel("hello"), option, value];
        CliResult r = CliRun.InProcess(args);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.Contain(message));
        CliRun.AssertCleanError(r);
    }

    [Test]
    public void GdbGuest_MustNameAGuest()
    {
        CliResult r = CliRun.InProcess(["run", TestImages.TestKernel("hello"), "--count", "2", "-s", "--gdb-guest", "nope"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.Contain("--gdb-guest 'nope': no such guest (the guests are hello-1, hello-2)"));
    }
}

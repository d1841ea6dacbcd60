using System.Text;
using MiniHv.Hv.Debugging;

namespace MiniHv.Tests.Debugging;

/// <summary>The remote protocol's framing: checksums, escapes, and what a reader makes of noise, bad sums and hang-ups.</summary>
public class RspPacketTests
{
    private static string Framed(string payload) => Encoding.Latin1.GetString(RspPacket.Frame(payload));

    private static RspReader Reader(string bytes, int max = GdbStub.PacketSize)
        => new(new MemoryStream(Encoding.Latin1.GetBytes(bytes)), max);

    [Test]
    public void Frame_AppendsTheByteSumModulo256_InLowercaseHex()
    {
        Assert.That(Framed("OK"), Is.EqualTo("$OK#9a"));
        Assert.That(Framed(""), Is.EqualTo("$#00"));
        Assert.That(Framed("S05"), Is.EqualTo("$S05#b8"));
    }

    [Test]
    public void Frame_EscapesTheFourSpecialBytes_AndSumsWhatIsSent()
    {
        string framed = Framed("a#b$c}d*e");
        Assert.That(framed, Is.EqualTo("$a}\u0003b}\u0004c}]d}\u000ae#" + $"{RspPacket.Checksum(Encoding.Latin1.GetBytes("a}\u0003b}\u0004c}]d}\u000ae")):x2}"));
    }

    [Test]
    public void Unescape_GivesBackTheBinaryBytes()
    {
        byte[] data = [0x23, 0x24, 0x7d, 0x2a, 0x00, 0xff];
        string escaped = Framed(Encoding.Latin1.GetString(data))[1..^3];
        Assert.That(RspPacket.Unescape(Encoding.Latin1.GetBytes(escaped)), Is.EqualTo(data));
    }

    [Test]
    public void Reader_SkipsLineNoise_AndReadsAcksInterruptsAndPackets()
    {
        RspReader reader = Reader("garbage\r\n+-\u0003xx$qC#b4");
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.Ack));
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.Nack));
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.Interrupt));
        RspEvent packet = reader.Next();
        Assert.That(packet.Kind, Is.EqualTo(RspEventKind.Packet));
        Assert.That(Encoding.Latin1.GetString(packet.Payload), Is.EqualTo("qC"));
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.Closed));
    }

    [Test]
    public void Reader_ReportsABadChecksum_AndReadsTheRetransmission()
    {
        RspReader reader = Reader("$qC#00$qC#B4$g#zz");
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.BadChecksum));
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.Packet), "uppercase hex digits are accepted");
        Assert.That(reader.Next().Kind, Is.EqualTo(RspEventKind.BadChecksum), "a checksum that is not hex");
    }

    [Test]
    public void Reader_RestartsAPacketAtANewDollar()
    {
        RspEvent e = Reader("$half-a-packet$qC#b4").Next();
        Assert.That(Encoding.Latin1.GetString(e.Payload), Is.EqualTo("qC"));
    }

    [TestCase("$qSupported:multiprocess+")]
    [TestCase("$qC#b")]
    [TestCase("$qC#")]
    public void Reader_SeesAHangUpInsideAPacket(string truncated)
        => Assert.That(Reader(truncated).Next().Kind, Is.EqualTo(RspEventKind.Closed));

    [Test]
    public void Reader_RefusesAPacketLongerThanAnnounced()
        => Assert.That(Reader("$" + new string('m', 100) + "#00", max: 64).Next().Kind, Is.EqualTo(RspEventKind.TooLong));

    [Test]
    public void TargetDescription_IsXmlWithTheI386CoreRegistersInGdbsOrder()
    {
        var xml = System.Xml.Linq.XDocument.Parse(TargetDescription.Xml);
        string[] names = xml.Descendants("reg").Select(r => (string)r.Attribute("name")!).ToArray();
        Assert.That(names[..16], Is.EqualTo(new[] { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "cs", "ss", "ds", "es", "fs", "gs" }));
        Assert.That(names, Has.Length.EqualTo(I386Registers.Count));
        Assert.That(xml.Descendants("feature").Single().Attribute("name")!.Value, Is.EqualTo("org.gnu.gdb.i386.core"));
    }
}

using System.Text;
using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class CgaTextTests
{
    private readonly Dictionary<uint, byte> _memory = [];

    [SetUp]
    public void SetUp() => _memory.Clear();

    private CgaText CreateWithBus(out IoBus bus)
    {
        bus = new IoBus();
        var cga = new CgaText(a => _memory.GetValueOrDefault(a));
        cga.Attach(bus);
        return cga;
    }

    private void Put(int row, int col, string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            uint cell = CgaText.BufferAddress + (uint)((row * 80 + col + i) * 2);
            _memory[cell] = (byte)text[i];
            _memory[cell + 1] = 0x07;
        }
    }

    [Test]
    public void DumpText_GivesTwentyFiveTrimmedLines()
    {
        var cga = CreateWithBus(out _);
        Put(0, 0, "Hello, world   ");
        Put(24, 70, "bottom");

        string[] lines = cga.DumpText().Split('\n');

        Assert.That(lines, Has.Length.EqualTo(25));
        Assert.That(lines[0], Is.EqualTo("Hello, world"));
        Assert.That(lines[1], Is.Empty);
        Assert.That(lines[24], Is.EqualTo(new string(' ', 70) + "bottom"));
    }

    [Test]
    public void DumpText_ShowsCodePage437Glyphs()
    {
        var cga = CreateWithBus(out _);
        _memory[CgaText.BufferAddress] = 0x01;
        _memory[CgaText.BufferAddress + 2] = 0xC9;
        _memory[CgaText.BufferAddress + 4] = 0xB0;
        Assert.That(cga.DumpText().Split('\n')[0], Is.EqualTo("☺╔░"));
    }

    [Test]
    public void DumpText_FollowsTheCrtcStartAddress()
    {
        var cga = CreateWithBus(out var bus);
        Put(1, 0, "second row");
        bus.Out(0x3D4, 1, 0x0C);
        bus.Out(0x3D5, 1, 0x00);
        bus.Out(0x3D4, 1, 0x0D);
        bus.Out(0x3D5, 1, 80);
        Assert.That(cga.DumpText(), Does.StartWith("second row\n"));
    }

    [Test]
    public void CursorRegisters_ReadBackAndGiveRowAndColumn()
    {
        var cga = CreateWithBus(out var bus);
        int pos = 3 * 80 + 17;
        bus.Out(0x3D4, 1, 0x0E);
        bus.Out(0x3D5, 1, (uint)(pos >> 8));
        bus.Out(0x3D4, 2, 0x0F | (uint)(pos & 0xFF) << 8); // index and data in one 16-bit OUT

        bus.Out(0x3D4, 1, 0x0E);
        uint high = bus.In(0x3D5, 1);
        bus.Out(0x3D4, 1, 0x0F);
        uint low = bus.In(0x3D5, 1);

        Assert.That(high << 8 | low, Is.EqualTo(pos));
        Assert.That((cga.CursorRow, cga.CursorColumn), Is.EqualTo((3, 17)));
    }

    [Test]
    public void StatusPort_CyclesRetraceSoPollingLoopsEnd()
    {
        CreateWithBus(out var bus);
        var seen = new HashSet<uint>();
        for (int i = 0; i < 8; i++)
            seen.Add(bus.In(0x3DA, 1) & 0x08);
        Assert.That(seen, Is.EquivalentTo(new uint[] { 0, 8 }));
    }
}

using MiniHv.Hv.Faults;
using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Faults;

public class QuietLinearReaderTests
{
    [Test]
    public void ReadAcrossPages_FollowsEachPagesOwnTranslation()
    {
        using var pool = new MachineMemory(64);
        using var ram = new GuestPhysicalMemory(pool, 1 << 20);
        ram.Write(0x5ffe, [0xAA, 0xBB]);
        ram.Write(0x9000, [0xCC, 0xDD]);

        // Linear page 0x40000 -> frame 5, 0x40001 -> frame 9: not contiguous in guest-physical memory.
        GuestLinearReader read = QuietLinearReader.Create(Translate(new() { [0x40000] = 5, [0x40001] = 9 }), ram);
        Span<byte> bytes = stackalloc byte[4];

        Assert.That(read(0x40000ffe, bytes), Is.EqualTo(4));
        Assert.That(bytes.ToArray(), Is.EqualTo(new byte[] { 0xAA, 0xBB, 0xCC, 0xDD }));
    }

    [Test]
    public void ReadStopsAtAnUnmappedPageAndAtAFrameBeyondRam()
    {
        using var pool = new MachineMemory(64);
        using var ram = new GuestPhysicalMemory(pool, 1 << 20);
        GuestLinearReader read = QuietLinearReader.Create(Translate(new() { [0x40000] = 5, [0x50000] = 5, [0x50001] = 0xFFFFF }), ram);
        byte[] bytes = new byte[15];

        Assert.Multiple(() =>
        {
            Assert.That(read(0x40000ff8, bytes), Is.EqualTo(8), "the next page is not mapped");
            Assert.That(read(0x50000ffc, bytes), Is.EqualTo(4), "the next page maps to a frame that is not RAM");
            Assert.That(read(0x60000000, bytes), Is.Zero);
        });
    }

    [Test]
    public void Read_NeverAllocatesAFrame()
    {
        using var pool = new MachineMemory(64);
        using var ram = new GuestPhysicalMemory(pool, 1 << 20);
        GuestLinearReader read = QuietLinearReader.Create(Translate(new() { [0x40000] = 7 }), ram);

        read(0x40000000, stackalloc byte[15]);

        Assert.That(ram.PrivateFrames, Is.Zero, "a read of an untouched frame stays on the zero frame");
    }

    private static QuietTranslator Translate(Dictionary<uint, uint> pages) => (uint linear, out uint physical) =>
    {
        bool mapped = pages.TryGetValue(linear >> 12, out uint frame);
        physical = (frame << 12) | (linear & 0xFFF);
        return mapped;
    };
}

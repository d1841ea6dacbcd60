using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>The round census's set: distinct checksums counted once, cleared per round, grown when full.</summary>
public class ChecksumSetTests
{
    [Test]
    public void Each_checksum_counts_once()
    {
        var set = new ChecksumSet();
        Assert.That(set.Add(0xDEAD_BEEF_0000_0001), Is.True);
        Assert.That(set.Add(0xDEAD_BEEF_0000_0001), Is.False);
        Assert.That(set.Add(0), Is.True); // zero is a checksum like any other
        Assert.That(set.Count, Is.EqualTo(2));
        Assert.That(set.Contains(0), Is.True);
        Assert.That(set.Contains(2), Is.False);
    }

    [Test]
    public void Clear_forgets_everything_and_keeps_the_size()
    {
        var set = new ChecksumSet();
        for (ulong c = 0; c < 500; c++)
            set.Add(c * 7);
        int capacity = set.Capacity;

        set.Clear();

        Assert.That(set.Count, Is.EqualTo(0));
        Assert.That(set.Capacity, Is.EqualTo(capacity));
        Assert.That(set.Contains(7), Is.False);
        Assert.That(set.Add(7), Is.True);
        Assert.That(set.Count, Is.EqualTo(1));
    }

    [Test]
    public void Growth_keeps_every_checksum()
    {
        var set = new ChecksumSet();
        int before = set.Capacity;
        for (ulong c = 1; c <= 10_000; c++)
        {
            set.Add(c * 0x1_0000_0001);
            set.Add(c * 0x1_0000_0001); // twice: still one
        }

        Assert.That(set.Capacity, Is.GreaterThan(before));
        Assert.That(set.Count, Is.EqualTo(10_000));
        for (ulong c = 1; c <= 10_000; c++)
            Assert.That(set.Contains(c * 0x1_0000_0001), Is.True);
        Assert.That(set.Contains(10_001 * 0x1_0000_0001), Is.False);
    }
}

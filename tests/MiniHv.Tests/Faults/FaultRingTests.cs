using MiniHv.Hv.Faults;

namespace MiniHv.Tests.Faults;

public class FaultRingTests
{
    private static FaultEvent Event(long n) => new()
    {
        Guest = "g",
        GuestId = 0,
        Kind = FaultKind.PageFault,
        HandledBy = FaultHandler.Guest,
        Instructions = n,
    };

    [Test]
    public void FullRing_KeepsTheLastNOldestFirst()
    {
        var ring = new FaultRing(4);

        for (int i = 1; i <= 10; i++)
            ring.Add(Event(i));

        Assert.Multiple(() =>
        {
            Assert.That(ring.Snapshot().Select(e => e.Instructions), Is.EqualTo(new long[] { 7, 8, 9, 10 }));
            Assert.That(ring.Added, Is.EqualTo(10));
        });
    }

    [Test]
    public void RingNotYetFull_HoldsWhatWasAdded()
    {
        var ring = new FaultRing(8);
        ring.Add(Event(1));
        ring.Add(Event(2));

        Assert.That(ring.Snapshot().Select(e => e.Instructions), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(new FaultRing(3).Snapshot(), Is.Empty);
    }

    [Test]
    public void ReaderRacingTheWriter_OnlyEverSeesAnInOrderRunOfTheLastEvents()
    {
        const int capacity = 16;
        const int events = 300_000;
        var ring = new FaultRing(capacity);
        string? failure = null;
        int snapshots = 0;
        using var done = new ManualResetEventSlim();

        var reader = new Thread(() =>
        {
            while (!done.IsSet && failure == null)
            {
                IReadOnlyList<FaultEvent> seen;
                try
                {
                    seen = ring.Snapshot();
                }
                catch (Exception e)
                {
                    failure = e.ToString();
                    break;
                }

                snapshots++;
                if (seen.Count > capacity)
                    failure = $"{seen.Count} events from a ring of {capacity}";
                for (int i = 1; i < seen.Count && failure == null; i++)
                {
                    if (seen[i].Instructions != seen[i - 1].Instructions + 1)
                        failure = $"event {seen[i].Instructions} after {seen[i - 1].Instructions}";
                }
            }
        });
        reader.Start();
        for (int i = 1; i <= events; i++)
            ring.Add(Event(i));
        done.Set();
        reader.Join();

        Assert.Multiple(() =>
        {
            Assert.That(failure, Is.Null);
            Assert.That(snapshots, Is.GreaterThan(0));
            Assert.That(ring.Snapshot().Select(e => e.Instructions), Is.EqualTo(Enumerable.Range(events - capacity + 1, capacity).Select(i => (long)i)));
        });
    }

    [Test]
    public void EmptyRingCapacity_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new FaultRing(0));
    }
}

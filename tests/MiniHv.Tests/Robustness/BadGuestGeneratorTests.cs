using MiniHv.Hv.Loader;
using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Robustness;

/// <summary>The bad-guest generator itself: one seed, one guest, and every guest boots.</summary>
public class BadGuestGeneratorTests
{
    [Test]
    public void SameSeed_BuildsTheSameGuest()
    {
        for (int seed = 0; seed < 2 * BadGuestGenerator.KindCount; seed++)
        {
            BadGuest a = BadGuestGenerator.Create(seed), b = BadGuestGenerator.Create(seed);
            Assert.That(a.Image, Is.EqualTo(b.Image), a.ToString);
            Assert.That(a.Recipe, Is.EqualTo(b.Recipe));
            Assert.That(a.MemoryBytes, Is.EqualTo(b.MemoryBytes));
        }
    }

    [Test]
    public void EveryKind_BuildsAnImageThatLoadsIntoItsGuest()
    {
        using var machine = new MachineMemory(1L << 16);
        var kinds = new HashSet<BadGuestKind>();
        for (int seed = 0; seed < 300; seed++)
        {
            BadGuest guest = BadGuestGenerator.Create(seed);
            kinds.Add(guest.Kind);
            using var memory = new GuestPhysicalMemory(machine, guest.MemoryBytes);
            KernelEntry entry = MultibootLoader.Load(memory, guest.Image, "bad");
            Assert.That(entry.EntryPoint, Is.EqualTo(BadGuestBuilder.CodeBase), guest.ToString);
        }

        Assert.That(kinds, Has.Count.EqualTo(BadGuestGenerator.KindCount));
    }
}

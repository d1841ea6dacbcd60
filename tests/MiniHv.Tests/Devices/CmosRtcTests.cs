using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

public class CmosRtcTests
{
    private static (IoBus Bus, CmosRtc Rtc) Create(long ramBytes, Func<DateTime>? clock = null)
    {
        var bus = new IoBus();
        var rtc = new CmosRtc(ramBytes, clock);
        rtc.Attach(bus);
        return (bus, rtc);
    }

    private static byte Read(IoBus bus, byte index)
    {
        bus.Out(0x70, 1, index);
        return (byte)bus.In(0x71, 1);
    }

    private static int Word(IoBus bus, byte low) => Read(bus, low) | Read(bus, (byte)(low + 1)) << 8;

    [Test]
    public void MemoryWords_For64MiB()
    {
        var (bus, _) = Create(64L << 20);
        Assert.That(Word(bus, 0x15), Is.EqualTo(640));
        Assert.That(Word(bus, 0x17), Is.EqualTo(63 * 1024));
        Assert.That(Word(bus, 0x30), Is.EqualTo(63 * 1024));
        Assert.That(Word(bus, 0x34), Is.EqualTo(48 * 16));
    }

    [Test]
    public void MemoryWords_For96MiB_MatchQemu()
    {
        // tests/golden/kernels/cmos.txt, recorded on qemu-system-i386 -m 96M.
        var (bus, _) = Create(96L << 20);
        Assert.That(Word(bus, 0x17), Is.EqualTo(0xFFFF));
        Assert.That(Word(bus, 0x30), Is.EqualTo(0xFFFF));
        Assert.That(Word(bus, 0x34), Is.EqualTo(0x0500));
    }

    [Test]
    public void MemoryWords_For4GiB_AreCapped()
    {
        var (bus, _) = Create(4L << 30);
        Assert.That(Word(bus, 0x15), Is.EqualTo(640));
        Assert.That(Word(bus, 0x17), Is.EqualTo(0xFFFF));
        Assert.That(Word(bus, 0x34), Is.EqualTo(0xFF00));

        var (big, _) = Create(8L << 30);
        Assert.That(Word(big, 0x34), Is.EqualTo(0xFFFF));
    }

    [Test]
    public void MemoryWords_ForTinyGuest_HaveNoHighMemory()
    {
        var (bus, _) = Create(8L << 20);
        Assert.That(Word(bus, 0x17), Is.EqualTo(7 * 1024));
        Assert.That(Word(bus, 0x34), Is.Zero);
    }

    [Test]
    public void DefaultClock_ReadsTheFixedDateInBcd()
    {
        var (bus, _) = Create(64L << 20);
        Assert.That(Read(bus, 0x00), Is.EqualTo(0x00));
        Assert.That(Read(bus, 0x02), Is.EqualTo(0x00));
        Assert.That(Read(bus, 0x04), Is.EqualTo(0x00));
        Assert.That(Read(bus, 0x06), Is.EqualTo(5), "2026-01-01 is a Thursday");
        Assert.That(Read(bus, 0x07), Is.EqualTo(0x01));
        Assert.That(Read(bus, 0x08), Is.EqualTo(0x01));
        Assert.That(Read(bus, 0x09), Is.EqualTo(0x26));
        Assert.That(Read(bus, 0x32), Is.EqualTo(0x20));
        Assert.That(Read(bus, 0x0A) & 0x80, Is.Zero, "never update-in-progress");
        Assert.That(Read(bus, 0x0B), Is.EqualTo(0x02));
        Assert.That(Read(bus, 0x0D), Is.EqualTo(0x80));
    }

    [Test]
    public void ClockSource_IsFollowed_InBinaryAnd12HourModesAsRegisterBAsks()
    {
        var now = new DateTime(2031, 7, 19, 15, 42, 59);
        var (bus, _) = Create(64L << 20, () => now);
        Assert.That(Read(bus, 0x04), Is.EqualTo(0x15));
        Assert.That(Read(bus, 0x00), Is.EqualTo(0x59));

        bus.Out(0x70, 1, 0x0B);
        bus.Out(0x71, 1, 0x04); // binary, 12-hour
        Assert.That(Read(bus, 0x04), Is.EqualTo(0x80 | 3));
        Assert.That(Read(bus, 0x02), Is.EqualTo(42));
        Assert.That(Read(bus, 0x09), Is.EqualTo(31));

        now = now.AddSeconds(1);
        Assert.That(Read(bus, 0x00), Is.EqualTo(0));
        Assert.That(Read(bus, 0x02), Is.EqualTo(43));
    }

    [Test]
    public void GuestSettingTheClock_MovesItsReadings()
    {
        var (bus, rtc) = Create(64L << 20);
        void Write(byte index, byte value)
        {
            bus.Out(0x70, 1, index);
            bus.Out(0x71, 1, value);
        }
        Write(0x0B, 0x82); // SET, 24-hour, BCD
        Write(0x09, 0x99);
        Write(0x08, 0x12);
        Write(0x07, 0x31);
        Write(0x04, 0x23);
        Write(0x02, 0x59);
        Write(0x00, 0x58);
        Write(0x32, 0x19);
        Write(0x0B, 0x02);

        Assert.That(rtc.Now, Is.EqualTo(new DateTime(1999, 12, 31, 23, 59, 58)));
        Assert.That(Read(bus, 0x09), Is.EqualTo(0x99));
    }

    [Test]
    public void Nvram_HoldsWhatTheGuestWrites_AndIndexIgnoresTheNmiBit()
    {
        var (bus, rtc) = Create(64L << 20);
        bus.Out(0x70, 1, 0x80 | 0x40);
        bus.Out(0x71, 1, 0x5A);
        Assert.That(rtc.NmiMasked, Is.True);
        Assert.That(Read(bus, 0x40), Is.EqualTo(0x5A));
        Assert.That(rtc.NmiMasked, Is.False);
    }

    [Test]
    public void ClockSetToTheLastSecondOfYear9999_RollsOverToYear1_InsteadOfFailing()
    {
        // The guest may set any valid date; a second later the reading must still be a time, not a host exception.
        var now = CmosRtc.DefaultTime;
        var (bus, rtc) = Create(64L << 20, () => now);
        void Write(byte index, byte value)
        {
            bus.Out(0x70, 1, index);
            bus.Out(0x71, 1, value);
        }
        Write(0x0B, 0x82); // SET, 24-hour, BCD
        Write(0x32, 0x99);
        Write(0x09, 0x99);
        Write(0x08, 0x12);
        Write(0x07, 0x31);
        Write(0x04, 0x23);
        Write(0x02, 0x59);
        Write(0x00, 0x59);
        Write(0x0B, 0x02);
        Assert.That(rtc.Now, Is.EqualTo(new DateTime(9999, 12, 31, 23, 59, 59)));

        now = now.AddSeconds(2);
        Assert.That(rtc.Now, Is.EqualTo(new DateTime(1, 1, 1, 0, 0, 1)));
        Assert.That(Read(bus, 0x00), Is.EqualTo(0x01));
        Assert.That(Read(bus, 0x09), Is.EqualTo(0x01));
        Assert.That(Read(bus, 0x32), Is.EqualTo(0x00));
    }
}

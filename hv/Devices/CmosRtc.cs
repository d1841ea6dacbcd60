namespace MiniHv.Hv.Devices;

/// <summary>The MC146818-style CMOS RTC at 0x70/0x71: a clock plus 128 bytes of NVRAM holding what a BIOS leaves there.</summary>
/// <remarks>
/// The clock reads from a caller's time source (by default a fixed date, so runs are deterministic);
/// a guest that sets the time moves an offset from that source. Updates are instantaneous, so the
/// update-in-progress bit never shows. Periodic, alarm and update interrupts (IRQ 8) are not generated.
/// The memory size words are filled as SeaBIOS fills them, which is what JOS and xv6 read.
/// </remarks>
public sealed class CmosRtc : IPortDevice
{
    public const ushort IndexPort = 0x70;
    public const ushort DataPort = 0x71;

    public const int BaseMemoryLow = 0x15;        // base memory in KiB (640)
    public const int ExtendedMemoryLow = 0x17;    // memory above 1 MiB in KiB, capped at 0xFFFF
    public const int ExtendedMemoryLow2 = 0x30;   // the same again, where the BIOS POST puts it
    public const int HighMemoryLow = 0x34;        // memory above 16 MiB in 64 KiB units, capped at 0xFFFF

    private const int RegisterA = 0x0A;
    private const int RegisterB = 0x0B;
    private const int RegisterC = 0x0C;
    private const int RegisterD = 0x0D;
    private const int Century = 0x32;

    private const byte SetBit = 0x80;         // register B: the guest is setting the clock
    private const byte BinaryBit = 0x04;      // register B: binary rather than BCD
    private const byte TwentyFourHourBit = 0x02;

    private readonly byte[] _nvram = new byte[128];
    private readonly Func<DateTime> _clock;
    private TimeSpan _offset;
    private byte _index;

    /// <param name="guestRamBytes">Guest RAM size, for the memory size words.</param>
    /// <param name="clock">The time the RTC keeps before the guest sets it; default: always <see cref="DefaultTime"/>.</param>
    public CmosRtc(long guestRamBytes, Func<DateTime>? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(guestRamBytes);
        _clock = clock ?? (() => DefaultTime);

        _nvram[RegisterA] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        _nvram[RegisterB] = TwentyFourHourBit; // BCD, 24-hour, as a PC BIOS leaves it
        _nvram[RegisterD] = 0x80; // valid RAM and time

        const long MiB = 1 << 20;
        long extendedKiB = guestRamBytes > MiB ? (guestRamBytes - MiB) / 1024 : 0;
        long high64KiB = guestRamBytes > 16 * MiB ? (guestRamBytes - 16 * MiB) / (64 * 1024) : 0;
        SetWord(BaseMemoryLow, 640);
        SetWord(ExtendedMemoryLow, Math.Min(extendedKiB, 0xFFFF));
        SetWord(ExtendedMemoryLow2, Math.Min(extendedKiB, 0xFFFF));
        SetWord(HighMemoryLow, Math.Min(high64KiB, 0xFFFF));

        // The standard checksum over 0x10-0x2D, stored big-endian at 0x2E/0x2F.
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
            sum += _nvram[i];
        _nvram[0x2E] = (byte)(sum >> 8);
        _nvram[0x2F] = (byte)sum;
    }

    /// <summary>2026-01-01 00:00:00, the clock's default reading.</summary>
    public static DateTime DefaultTime { get; } = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);

    /// <summary>
    /// The time the guest reads: the clock source plus whatever adjustment the guest made. A clock the guest set
    /// near the end of year 9999 rolls over to year 1, as the chip's two-digit year rolls over, rather than
    /// running past what <see cref="DateTime"/> can hold.
    /// </summary>
    public DateTime Now
    {
        get
        {
            DateTime source = _clock();
            long span = DateTime.MaxValue.Ticks + 1;
            long ticks = (source.Ticks + _offset.Ticks) % span; // both at most ~3.2e18: the sum cannot overflow
            return new DateTime(ticks < 0 ? ticks + span : ticks, source.Kind);
        }
    }

    /// <summary>Bit 7 of the last write to port 0x70. NMIs are never raised, so it only reads back.</summary>
    public bool NmiMasked { get; private set; }

    /// <summary>Claims 0x70 and 0x71.</summary>
    public void Attach(IoBus bus) => bus.Register(IndexPort, 2, this);

    public uint ReadPort(ushort port, int size) => port == IndexPort ? 0xFFu : ReadRegister(_index);

    public void WritePort(ushort port, int size, uint value)
    {
        if (port == IndexPort)
        {
            _index = (byte)(value & 0x7F);
            NmiMasked = (value & 0x80) != 0;
        }
        else
        {
            WriteRegister(_index, (byte)value);
        }
    }

    /// <summary>Reads register or NVRAM byte <paramref name="index"/> (0-127) as the guest would.</summary>
    public byte ReadRegister(int index)
    {
        index &= 0x7F;
        if (IsTimeRegister(index) && !Setting)
            return TimeField(index, Now);
        switch (index)
        {
            case RegisterA:
                return (byte)(_nvram[RegisterA] & 0x7F);
            case RegisterC:
                byte flags = _nvram[RegisterC];
                _nvram[RegisterC] = 0; // reading C acknowledges its flags
                return flags;
            default:
                return _nvram[index];
        }
    }

    /// <summary>Writes register or NVRAM byte <paramref name="index"/> (0-127) as the guest would.</summary>
    public void WriteRegister(int index, byte value)
    {
        index &= 0x7F;
        if (IsTimeRegister(index))
        {
            if (Setting)
            {
                _nvram[index] = value;
            }
            else
            {
                SnapshotTime();
                _nvram[index] = value;
                CommitTime();
            }
            return;
        }
        switch (index)
        {
            case RegisterA:
                _nvram[RegisterA] = (byte)(value & 0x7F); // UIP is read-only
                break;
            case RegisterB:
                bool wasSetting = Setting;
                if (!wasSetting && (value & SetBit) != 0)
                    SnapshotTime(); // the guest edits a frozen copy of the time
                _nvram[RegisterB] = value;
                if (wasSetting && !Setting)
                    CommitTime();
                break;
            case RegisterC:
            case RegisterD:
                break; // read-only
            default:
                _nvram[index] = value;
                break;
        }
    }

    private bool Setting => (_nvram[RegisterB] & SetBit) != 0;

    private bool Binary => (_nvram[RegisterB] & BinaryBit) != 0;

    private bool TwentyFourHour => (_nvram[RegisterB] & TwentyFourHourBit) != 0;

    private static bool IsTimeRegister(int index) => index is 0 or 2 or 4 or 6 or 7 or 8 or 9 or Century;

    private void SetWord(int low, long value)
    {
        _nvram[low] = (byte)value;
        _nvram[low + 1] = (byte)(value >> 8);
    }

    private byte TimeField(int index, DateTime t) => index switch
    {
        0 => Encode(t.Second),
        2 => Encode(t.Minute),
        4 => EncodeHour(t.Hour),
        6 => Encode((int)t.DayOfWeek + 1), // Sunday is 1
        7 => Encode(t.Day),
        8 => Encode(t.Month),
        9 => Encode(t.Year % 100),
        _ => Encode(t.Year / 100),
    };

    private byte Encode(int value) => Binary ? (byte)value : (byte)(value / 10 << 4 | value % 10);

    private int Decode(byte value) => Binary ? value : (value >> 4) * 10 + (value & 0x0F);

    private byte EncodeHour(int hour)
    {
        if (TwentyFourHour)
            return Encode(hour);
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(Encode(h12) | (hour >= 12 ? 0x80 : 0)); // bit 7 marks PM
    }

    private int DecodeHour(byte value)
    {
        if (TwentyFourHour)
            return Decode(value);
        return Decode((byte)(value & 0x7F)) % 12 + ((value & 0x80) != 0 ? 12 : 0);
    }

    private void SnapshotTime()
    {
        DateTime now = Now;
        foreach (int index in (ReadOnlySpan<int>)[0, 2, 4, 6, 7, 8, 9, Century])
            _nvram[index] = TimeField(index, now);
    }

    /// <summary>Takes the time the guest wrote as the new reading; an impossible date leaves the clock as it was.</summary>
    private void CommitTime()
    {
        int year = Decode(_nvram[Century]) * 100 + Decode(_nvram[9]);
        int month = Decode(_nvram[8]);
        int day = Decode(_nvram[7]);
        int hour = DecodeHour(_nvram[4]);
        int minute = Decode(_nvram[2]);
        int second = Decode(_nvram[0]);
        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return;
        }
        _offset = new DateTime(year, month, day, hour, minute, second) - _clock();
    }
}

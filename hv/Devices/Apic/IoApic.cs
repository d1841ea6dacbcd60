namespace MiniHv.Hv.Devices.Apic;

/// <summary>An 82093AA-style I/O APIC at 0xFEC00000 with 24 input pins, delivering over the APIC bus to the local APICs.</summary>
/// <remarks>
/// <para>
/// Registers, reached by writing an index to IOREGSEL (offset 0x00) and then reading or writing IOWIN (0x10):
/// <code>
/// 0x00        ID            bits 27-24 I/O APIC ID (the BIOS's, as the MP table gives it)
/// 0x01        version       0x00170011: version 0x11, max redirection entry 23 (no EOI register: EOIs come by broadcast)
/// 0x02        arbitration   bits 27-24, loaded from the ID
/// 0x10+2n     entry n low   vector (7-0), delivery mode (10-8), logical (11), delivery status (12, always 0),
///                           active low (13), remote IRR (14), level (15), mask (16)
/// 0x11+2n     entry n high  destination (bits 31-24)
/// </code>
/// Every entry is masked at reset. Devices drive it through <see cref="IIrqLines"/> with their ISA IRQ
/// number, which <see cref="IsaIrqRouting"/> maps to a pin; <see cref="SetPin"/> reaches all 24.
/// </para>
/// <para>
/// An edge-triggered entry sends its vector on the line's rising edge; an edge on a masked entry is lost,
/// as the 82093AA datasheet says. A level-triggered entry sends while the line is asserted and remote
/// IRR is clear, sets remote IRR, and sends again after the local APIC broadcasts the EOI of its vector if
/// the line is still asserted. Lines here are logical (asserted or not, as devices drive them), so the
/// polarity bit is kept for the guest but does not invert them. Fixed messages go to every local APIC that
/// accepts the destination (physical: its APIC ID or 0xFF; logical: its LDR under its DFR), lowest-priority
/// ones to one of them (see <see cref="ApicBus"/>); NMI, SMI, INIT and ExtINT entries are not delivered.
/// </para>
/// <para>
/// MMIO: 4-byte aligned accesses reach IOREGSEL and IOWIN; narrower reads return the addressed bytes;
/// narrower or misaligned writes are ignored; everything else in the 4 KiB window reads 0.
/// </para>
/// </remarks>
public sealed class IoApic : IMmioDevice, IIrqLines
{
    public const uint DefaultBase = 0xFEC0_0000;
    public const uint WindowSize = 0x1000;
    public const int PinCount = 24;
    public const byte VersionNumber = 0x11;

    /// <summary>The I/O APIC ID of a one-processor machine: 1, the first ID after the CPU's APIC ID 0, as the MP table lists it.</summary>
    public const byte DefaultId = 1;

    public const uint RegisterSelect = 0x00;
    public const uint RegisterWindow = 0x10;

    public const uint IdRegister = 0x00;
    public const uint VersionRegister = 0x01;
    public const uint ArbitrationRegister = 0x02;
    public const uint RedirectionTableBase = 0x10;

    public const ulong Masked = 1UL << 16;
    public const ulong LevelTriggered = 1UL << 15;
    public const ulong RemoteIrr = 1UL << 14;
    public const ulong ActiveLow = 1UL << 13;
    public const ulong LogicalDestination = 1UL << 11;

    private const ulong LowWritable = 0x0001_AFFF; // all but delivery status and remote IRR
    private const ulong HighWritable = 0xFF00_0000UL << 32;

    private readonly ApicBus _bus;
    private readonly ulong[] _entries = new ulong[PinCount];
    private uint _asserted; // pin n at bit n
    private uint _select;
    private uint _id;
    private uint _arbitration;

    /// <param name="localApic">The one CPU's local APIC: messages go to it, and its EOI broadcasts come back here.</param>
    /// <param name="id">The I/O APIC ID as the BIOS programmed it (4 bits); must match the MP table.</param>
    public IoApic(LocalApic localApic, byte id = DefaultId, uint mmioBase = DefaultBase)
        : this(BusOf(localApic), id, mmioBase)
    {
    }

    /// <summary>An I/O APIC sending to the local APICs on <paramref name="bus"/>, which must all be attached already.</summary>
    public IoApic(ApicBus bus, byte id = DefaultId, uint mmioBase = DefaultBase)
    {
        ArgumentNullException.ThrowIfNull(bus);
        _bus = bus;
        _id = (uint)(id & 0xF) << 24;
        _arbitration = _id;
        MmioBase = mmioBase;
        Array.Fill(_entries, Masked);
        foreach (LocalApic apic in bus.Apics)
            apic.EndOfInterruptBroadcast += EndOfInterrupt;
    }

    private static ApicBus BusOf(LocalApic localApic)
    {
        ArgumentNullException.ThrowIfNull(localApic);
        if (localApic.Bus is { } bus)
            return bus;
        bus = new ApicBus();
        bus.Attach(localApic);
        return bus;
    }

    public uint MmioBase { get; }

    public uint MmioSize => WindowSize;

    public byte Id => (byte)(_id >> 24);

    /// <summary>Interrupt messages sent to the local APIC.</summary>
    public long MessagesDelivered { get; private set; }

    /// <summary>Redirection entry <paramref name="pin"/> (0-23) as 64 bits, high word the destination.</summary>
    public ulong RedirectionEntry(int pin) => _entries[pin];

    /// <summary>True while input <paramref name="pin"/> is asserted.</summary>
    public bool IsAsserted(int pin) => (_asserted & 1u << pin) != 0;

    /// <summary>Drives the pin of ISA IRQ <paramref name="irq"/> (0-15) high.</summary>
    public void RaiseIrq(int irq) => SetPin(PinOf(irq), true);

    public void LowerIrq(int irq) => SetPin(PinOf(irq), false);

    /// <summary>Drives input <paramref name="pin"/> (0-23).</summary>
    public void SetPin(int pin, bool asserted)
    {
        if ((uint)pin >= PinCount)
            throw new ArgumentOutOfRangeException(nameof(pin), pin, "the I/O APIC has pins 0-23");
        uint bit = 1u << pin;
        bool rising = asserted && (_asserted & bit) == 0;
        _asserted = asserted ? _asserted | bit : _asserted & ~bit;

        ulong entry = _entries[pin];
        if ((entry & LevelTriggered) != 0)
            ServiceLevel(pin);
        else if (rising && (entry & Masked) == 0)
            Send(entry, level: false);
    }

    /// <summary>The local APIC's EOI broadcast for <paramref name="vector"/>: clears remote IRR of the level entries with that vector, which send again if still asserted.</summary>
    public void EndOfInterrupt(byte vector)
    {
        for (int pin = 0; pin < PinCount; pin++)
        {
            ulong entry = _entries[pin];
            if ((byte)entry != vector || (entry & (LevelTriggered | RemoteIrr)) != (LevelTriggered | RemoteIrr))
                continue;
            _entries[pin] = entry & ~RemoteIrr;
            ServiceLevel(pin);
        }
    }

    public uint ReadMmio(uint offset, int size)
    {
        if (size == 4 && (offset & 3) == 0)
            return ReadDword(offset);
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            uint at = offset + (uint)i;
            value |= (ReadDword(at & ~3u) >> (int)(8 * (at & 3)) & 0xFF) << (8 * i);
        }
        return value;
    }

    public void WriteMmio(uint offset, int size, uint value)
    {
        if (size != 4)
            return;
        if (offset == RegisterSelect)
            _select = value & 0xFF;
        else if (offset == RegisterWindow)
            WriteRegister(_select, value);
    }

    private static int PinOf(int irq)
    {
        if ((uint)irq >= IsaIrqRouting.IsaIrqCount)
            throw new ArgumentOutOfRangeException(nameof(irq), irq, "ISA IRQs are 0-15");
        return IsaIrqRouting.IoApicPin(irq);
    }

    private uint ReadDword(uint offset) => offset switch
    {
        RegisterSelect => _select,
        RegisterWindow => ReadRegister(_select),
        _ => 0,
    };

    private uint ReadRegister(uint index)
    {
        switch (index)
        {
            case IdRegister:
                return _id;
            case VersionRegister:
                return (uint)(PinCount - 1) << 16 | VersionNumber;
            case ArbitrationRegister:
                return _arbitration;
            case >= RedirectionTableBase and < RedirectionTableBase + 2 * PinCount:
                ulong entry = _entries[(index - RedirectionTableBase) >> 1];
                return (index & 1) == 0 ? (uint)entry : (uint)(entry >> 32);
            default:
                return 0;
        }
    }

    private void WriteRegister(uint index, uint value)
    {
        if (index == IdRegister)
        {
            _id = value & 0x0F00_0000;
            _arbitration = _id;
            return;
        }
        if (index is < RedirectionTableBase or >= RedirectionTableBase + 2 * PinCount)
            return; // version, arbitration and the rest are read-only or reserved

        int pin = (int)(index - RedirectionTableBase) >> 1;
        ulong entry = _entries[pin];
        if ((index & 1) != 0)
        {
            _entries[pin] = (entry & ~HighWritable) | ((ulong)value << 32 & HighWritable);
            ServiceLevel(pin); // a new destination may accept what the old one did not
            return;
        }
        entry = (entry & ~LowWritable) | (value & LowWritable);
        if ((entry & LevelTriggered) == 0)
            entry &= ~RemoteIrr; // remote IRR means nothing for edge entries; switching to edge clears it
        _entries[pin] = entry;
        ServiceLevel(pin); // an unmasked level entry whose line is asserted sends at once
    }

    private void ServiceLevel(int pin)
    {
        ulong entry = _entries[pin];
        if ((entry & (LevelTriggered | Masked | RemoteIrr)) != LevelTriggered || (_asserted & 1u << pin) == 0)
            return;
        if (Send(entry, level: true))
            _entries[pin] = entry | RemoteIrr;
    }

    /// <summary>Sends the entry's interrupt message; false when no local APIC took it.</summary>
    private bool Send(ulong entry, bool level)
    {
        var mode = (ApicDeliveryMode)((int)(entry >> 8) & 7);
        if (mode is not (ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority))
            return false;
        if (!_bus.SendMessage(mode, (byte)entry, (byte)(entry >> 56), (entry & LogicalDestination) != 0, level))
            return false;
        MessagesDelivered++;
        return true;
    }
}

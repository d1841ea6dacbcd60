using System.Buffers.Binary;
using System.Text;
using MiniHv.Hv.Devices.Apic;

namespace MiniHv.Hv.Firmware;

/// <summary>
/// Lays out the Intel MultiProcessor Specification 1.4 tables of the machine: the MP floating pointer
/// structure and the MP configuration table that xv6 and JOS (lab 4) look for, with one processor entry per CPU.
/// </summary>
/// <remarks>
/// <para>
/// Both go in the first KiB of the EBDA, which is the first place the MP spec (4.) and xv6's and JOS's
/// mp.c search: the floating pointer at 0x9FC10, just after the EBDA's size byte, and the configuration
/// table straight after it. The multiboot memory map reserves the EBDA, so kernels leave it alone.
/// </para>
/// <para>
/// Floating pointer (16 bytes): "_MP_", the table's address, length 1 (paragraphs), spec revision 4,
/// checksum, feature byte 1 = 0 (a table is present), feature byte 2 = 0 (no IMCR: virtual wire mode).
/// </para>
/// <para>
/// Configuration table: the 44-byte "PCMP" header (revision 4, OEM "MINIHV", product "MiniHv PC",
/// local APIC at 0xFEE00000, no extended entries), then the entries in the order the spec requires:
/// <code>
/// processor   per CPU: APIC ID (the BSP's, then the next ones), APIC version 0x14, enabled (+ BSP for the first),
///             CPUID signature and feature flags
/// bus 0       "ISA   "
/// I/O APIC    its ID (the first after the processors'), version 0x11, enabled, 0xFEC00000
/// I/O int     ISA IRQ n -> I/O APIC pin (IsaIrqRouting: IRQ 0 -> pin 2, otherwise pin n; IRQ 2 not listed),
///             type INT, polarity and trigger "conforms to bus" (ISA: active high, edge)
/// local int   ExtINT -> LINT0, NMI -> LINT1, on every local APIC (ID 0xFF)
/// </code>
/// </para>
/// </remarks>
public sealed class MpTableWriter
{
    public const uint DefaultFloatingPointerAddress = BiosDataArea.EbdaAddress + 16;

    public const int FloatingPointerLength = 16;
    public const byte SpecRevision = 4;

    public const byte ProcessorEntry = 0;
    public const byte BusEntry = 1;
    public const byte IoApicEntry = 2;
    public const byte IoInterruptEntry = 3;
    public const byte LocalInterruptEntry = 4;

    public const byte InterruptTypeInt = 0;
    public const byte InterruptTypeNmi = 1;
    public const byte InterruptTypeExtInt = 3;

    private const int HeaderLength = 44;
    private const int ProcessorEntryLength = 20;
    private const int ShortEntryLength = 8;

    /// <summary>Where the floating pointer goes (16-byte aligned); the configuration table follows it.</summary>
    public uint FloatingPointerAddress { get; init; } = DefaultFloatingPointerAddress;

    /// <summary>The BSP's APIC ID; must be the <see cref="LocalApic"/>'s. The other processors have the IDs after it.</summary>
    public byte LocalApicId { get; init; }

    /// <summary>Processors listed: the BSP and the application processors after it.</summary>
    public int ProcessorCount { get; init; } = 1;

    public uint LocalApicAddress { get; init; } = LocalApic.DefaultBase;

    /// <summary>The I/O APIC's ID; must be the <see cref="IoApic"/>'s, which xv6 compares with it.</summary>
    public byte IoApicId { get; init; } = IoApic.DefaultId;

    public uint IoApicAddress { get; init; } = IoApic.DefaultBase;

    /// <summary>CPUID leaf 1 EAX as the CPU reports it: family 6, model 3, stepping 3.</summary>
    public uint CpuSignature { get; init; } = Cpu.Cpu.Signature;

    /// <summary>CPUID leaf 1 EDX as the CPU reports it: DE, PSE, TSC, APIC, CX8, CMOV; no FPU.</summary>
    public uint CpuFeatureFlags { get; init; } = Cpu.Cpu.BaseFeatureFlags | Cpu.Cpu.FeatureApic;

    public uint ConfigurationTableAddress => FloatingPointerAddress + FloatingPointerLength;

    /// <summary>Writes the floating pointer and the configuration table through <paramref name="writePhysical"/>.</summary>
    public void Write(Action<uint, ReadOnlySpan<byte>> writePhysical)
    {
        ArgumentNullException.ThrowIfNull(writePhysical);
        writePhysical(FloatingPointerAddress, BuildFloatingPointer());
        writePhysical(ConfigurationTableAddress, BuildConfigurationTable());
    }

    public byte[] BuildFloatingPointer()
    {
        if ((FloatingPointerAddress & 15) != 0)
            throw new InvalidOperationException($"the MP floating pointer must be 16-byte aligned, not at 0x{FloatingPointerAddress:X}");
        var mp = new byte[FloatingPointerLength];
        "_MP_"u8.CopyTo(mp);
        BinaryPrimitives.WriteUInt32LittleEndian(mp.AsSpan(4), ConfigurationTableAddress);
        mp[8] = 1; // length in 16-byte paragraphs
        mp[9] = SpecRevision;
        // mp[11] = 0: a configuration table is present; mp[12] bit 7 = 0: no IMCR, virtual wire mode.
        mp[10] = Checksum(mp);
        return mp;
    }

    public byte[] BuildConfigurationTable()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ProcessorCount, 1);
        var entries = new List<byte[]>();
        for (int cpu = 0; cpu < ProcessorCount; cpu++)
            entries.Add(BuildProcessor(cpu));
        entries.Add(BuildBus());
        entries.Add(BuildIoApic());
        for (int irq = 0; irq < IsaIrqRouting.IsaIrqCount; irq++)
        {
            if (IsaIrqRouting.IsListed(irq))
                entries.Add(BuildIoInterrupt(irq, IsaIrqRouting.IoApicPin(irq)));
        }
        entries.Add(BuildLocalInterrupt(InterruptTypeExtInt, lint: 0));
        entries.Add(BuildLocalInterrupt(InterruptTypeNmi, lint: 1));

        int length = HeaderLength + entries.Sum(e => e.Length);
        var table = new byte[length];
        Span<byte> header = table.AsSpan(0, HeaderLength);
        "PCMP"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], (ushort)length);
        header[6] = SpecRevision;
        Ascii("MINIHV", 8).CopyTo(header[8..]);
        Ascii("MiniHv PC", 12).CopyTo(header[16..]);
        // 28: no OEM table (pointer and size 0)
        BinaryPrimitives.WriteUInt16LittleEndian(header[34..], (ushort)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], LocalApicAddress);
        // 40: no extended table: length 0, and its checksum 0 sums it correctly

        int at = HeaderLength;
        foreach (byte[] entry in entries)
        {
            entry.CopyTo(table, at);
            at += entry.Length;
        }
        table[7] = Checksum(table);
        return table;
    }

    private byte[] BuildProcessor(int cpu)
    {
        var e = new byte[ProcessorEntryLength];
        e[0] = ProcessorEntry;
        e[1] = (byte)(LocalApicId + cpu);
        e[2] = (byte)(LocalApic.VersionValue & 0xFF);
        e[3] = (byte)(cpu == 0 ? 0x01 | 0x02 : 0x01); // enabled; the first is the bootstrap processor
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), CpuSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(8), CpuFeatureFlags);
        return e;
    }

    private static byte[] BuildBus()
    {
        var e = new byte[ShortEntryLength];
        e[0] = BusEntry;
        e[1] = 0; // bus ID
        Ascii("ISA", 6).CopyTo(e.AsSpan(2));
        return e;
    }

    private byte[] BuildIoApic()
    {
        var e = new byte[ShortEntryLength];
        e[0] = IoApicEntry;
        e[1] = IoApicId;
        e[2] = IoApic.VersionNumber;
        e[3] = 0x01; // usable
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), IoApicAddress);
        return e;
    }

    private byte[] BuildIoInterrupt(int irq, int pin)
    {
        // Flags 0: polarity and trigger mode conform to the bus, which for ISA is active high, edge.
        return [IoInterruptEntry, InterruptTypeInt, 0, 0, 0, (byte)irq, IoApicId, (byte)pin];
    }

    private static byte[] BuildLocalInterrupt(byte type, int lint) =>
        [LocalInterruptEntry, type, 0, 0, 0, 0, 0xFF, (byte)lint];

    /// <summary>The byte that makes the sum of all bytes of <paramref name="bytes"/> 0 mod 256 (its own slot must hold 0).</summary>
    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (byte b in bytes)
            sum += b;
        return (byte)-sum;
    }

    private static byte[] Ascii(string text, int width) => Encoding.ASCII.GetBytes(text.PadRight(width));
}

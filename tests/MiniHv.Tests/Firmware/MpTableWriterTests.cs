using System.Buffers.Binary;
using System.Text;
using MiniHv.Hv.Devices.Apic;
using MiniHv.Hv.Firmware;
using MiniHv.Hv.Loader;

namespace MiniHv.Tests.Firmware;

public class MpTableWriterTests
{
    // The first MiB of guest RAM, as a BIOS leaves it for the kernel.
    private byte[] _ram = null!;

    [SetUp]
    public void SetUp()
    {
        _ram = new byte[1 << 20];
        BiosDataArea.Write(WritePhysical);
        new MpTableWriter().Write(WritePhysical);
    }

    private void WritePhysical(uint address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(_ram.AsSpan((int)address));

    private ushort Word(uint address) => BinaryPrimitives.ReadUInt16LittleEndian(_ram.AsSpan((int)address));

    private uint Dword(uint address) => BinaryPrimitives.ReadUInt32LittleEndian(_ram.AsSpan((int)address));

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (byte b in bytes)
            sum += b;
        return sum & 0xFF;
    }

    /// <summary>One region of the search: "_MP_" with a zero checksum at a 16-byte boundary.</summary>
    private int SearchRegion(int start, int length)
    {
        for (int p = start; p + 16 <= start + length; p += 16)
        {
            if (_ram.AsSpan(p, 4).SequenceEqual("_MP_"u8) && Sum(_ram.AsSpan(p, 16)) == 0)
                return p;
        }
        return -1;
    }

    /// <summary>The search of xv6's mp.c: the EBDA's first KiB, the last KiB of base memory, then the BIOS ROM.</summary>
    private (int Address, string Where) SearchLikeXv6()
    {
        int ebda = Word(0x40E) << 4;
        if (ebda != 0 && SearchRegion(ebda, 1024) is var inEbda and >= 0)
            return (inEbda, "EBDA");
        int baseEnd = Word(0x413) * 1024;
        if (SearchRegion(baseEnd - 1024, 1024) is var inBase and >= 0)
            return (inBase, "base memory");
        return (SearchRegion(0xF0000, 0x10000), "BIOS ROM");
    }

    [Test]
    public void BiosDataArea_HoldsCom1Lpt1TheEbdaAndBaseMemory()
    {
        Assert.That(Word(0x400), Is.EqualTo(0x3F8), "COM1");
        Assert.That(Word(0x402), Is.Zero, "no COM2");
        Assert.That(Word(0x408), Is.EqualTo(0x378), "LPT1");
        Assert.That(Word(0x40E), Is.EqualTo(0x9FC0), "EBDA segment");
        Assert.That(Word(0x413), Is.EqualTo(639), "base memory KiB");
        Assert.That(_ram[0x9FC00], Is.EqualTo(1), "EBDA size in KiB");
    }

    [Test]
    public void BaseMemorySize_AgreesWithTheMultibootInformation()
    {
        Assert.That((uint)BiosDataArea.BaseMemoryKiB, Is.EqualTo(MultibootLoader.MemLowerKiB));
        var map = MultibootLoader.MemoryMap(64 << 20);
        Assert.That(map.Any(e => e.Type == MemoryMapEntry.Reserved && e.Base <= BiosDataArea.EbdaAddress && e.Base + e.Length >= 0xA0000),
            Is.True, "the EBDA, and the MP tables in it, are reserved in the memory map");
    }

    [Test]
    public void Xv6Search_FindsTheFloatingPointerInTheEbdasFirstKiB()
    {
        (int address, string where) = SearchLikeXv6();
        Assert.That(where, Is.EqualTo("EBDA"));
        Assert.That(address, Is.EqualTo(0x9FC10));
    }

    [Test]
    public void FloatingPointer_HasSignatureRevisionChecksumAndNoDefaultConfiguration()
    {
        ReadOnlySpan<byte> mp = _ram.AsSpan(0x9FC10, 16);
        Assert.That(Encoding.ASCII.GetString(mp[..4]), Is.EqualTo("_MP_"));
        Assert.That(Dword(0x9FC14), Is.EqualTo(0x9FC20), "the configuration table's address");
        Assert.That(mp[8], Is.EqualTo(1), "length in paragraphs");
        Assert.That(mp[9], Is.EqualTo(4), "spec revision 1.4");
        Assert.That(Sum(mp), Is.Zero);
        Assert.That(mp[11], Is.Zero, "feature byte 1: a table is present, no default configuration");
        Assert.That(mp[12] & 0x80, Is.Zero, "no IMCR: virtual wire mode");
    }

    [Test]
    public void ConfigurationTable_HeaderIsWhatXv6AndJosCheck()
    {
        const int table = 0x9FC20;
        int length = Word(table + 4);
        Assert.That(Encoding.ASCII.GetString(_ram, table, 4), Is.EqualTo("PCMP"));
        Assert.That(length, Is.EqualTo(44 + 20 + 8 + 8 + 15 * 8 + 2 * 8));
        Assert.That(_ram[table + 6], Is.EqualTo(4), "version");
        Assert.That(Sum(_ram.AsSpan(table, length)), Is.Zero, "base table checksum");
        Assert.That(Encoding.ASCII.GetString(_ram, table + 8, 8), Is.EqualTo("MINIHV  "));
        Assert.That(Encoding.ASCII.GetString(_ram, table + 16, 12), Is.EqualTo("MiniHv PC   "));
        Assert.That(Word(table + 34), Is.EqualTo(20), "entry count");
        Assert.That(Dword(table + 36), Is.EqualTo(0xFEE0_0000), "local APIC address");
        Assert.That(Word(table + 40), Is.Zero, "no extended table");
        Assert.That((Sum(_ram.AsSpan(table + length, Word(table + 40))) + _ram[table + 42]) & 0xFF, Is.Zero, "JOS's extended checksum");
        Assert.That(table + length, Is.LessThanOrEqualTo(0x9FC00 + 1024), "inside the EBDA's first KiB");
    }

    [Test]
    public void ConfigurationTable_EntriesDescribeOneCpuOneIsaBusAndOneIoApic()
    {
        var entries = ParseEntries();
        Assert.That(entries.Select(e => e[0]), Is.EqualTo(new byte[] { 0, 1, 2 }.Concat(Enumerable.Repeat((byte)3, 15)).Concat(new byte[] { 4, 4 })),
            "processor, bus, I/O APIC, I/O interrupts, local interrupts, in the spec's order");

        byte[] cpu = entries[0];
        Assert.That(cpu, Has.Length.EqualTo(20));
        Assert.That(cpu[1], Is.EqualTo(0), "APIC ID");
        Assert.That(cpu[2], Is.EqualTo(0x14), "APIC version");
        Assert.That(cpu[3], Is.EqualTo(0x03), "enabled, BSP");
        uint signature = BinaryPrimitives.ReadUInt32LittleEndian(cpu.AsSpan(4));
        uint features = BinaryPrimitives.ReadUInt32LittleEndian(cpu.AsSpan(8));
        Assert.That(signature >> 8 & 0xF, Is.EqualTo(5), "family 5, as CPUID says");
        Assert.That(features & 1, Is.EqualTo(1u), "FPU");
        Assert.That(features & (1u << 4 | 1u << 8 | 1u << 15), Is.EqualTo(1u << 4 | 1u << 8 | 1u << 15), "TSC, CX8, CMOV");

        Assert.That(Encoding.ASCII.GetString(entries[1], 2, 6), Is.EqualTo("ISA   "));
        Assert.That(entries[1][1], Is.Zero, "bus ID");

        byte[] ioapic = entries[2];
        Assert.That(ioapic[1], Is.EqualTo(IoApic.DefaultId));
        Assert.That(ioapic[2], Is.EqualTo(0x11));
        Assert.That(ioapic[3], Is.EqualTo(1), "usable");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(4)), Is.EqualTo(0xFEC0_0000));
    }

    [Test]
    public void IoInterruptEntries_MapEachIsaIrqToThePinTheIoApicRoutesItOn()
    {
        var assignments = ParseEntries().Where(e => e[0] == 3).ToList();
        var map = assignments.ToDictionary(e => (int)e[5], e => (int)e[7]);

        Assert.That(map.Keys, Is.EquivalentTo(new[] { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 }));
        Assert.That(map[0], Is.EqualTo(2), "the PIT on pin 2");
        Assert.That(map[1], Is.EqualTo(1));
        Assert.That(map[4], Is.EqualTo(4));
        Assert.That(map[14], Is.EqualTo(14));
        foreach ((int irq, int pin) in map)
            Assert.That(pin, Is.EqualTo(IsaIrqRouting.IoApicPin(irq)));
        foreach (byte[] e in assignments)
        {
            Assert.That(e[1], Is.EqualTo(0), "type INT");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(e.AsSpan(2)), Is.Zero, "conforms to the bus");
            Assert.That(e[4], Is.Zero, "ISA bus");
            Assert.That(e[6], Is.EqualTo(IoApic.DefaultId));
        }
    }

    [Test]
    public void LocalInterruptEntries_PutExtIntOnLint0AndNmiOnLint1()
    {
        var locals = ParseEntries().Where(e => e[0] == 4).ToList();
        Assert.That(locals.Select(e => (e[1], e[6], e[7])), Is.EqualTo(new[] { ((byte)3, (byte)0xFF, (byte)0), ((byte)1, (byte)0xFF, (byte)1) }));
    }

    [Test]
    public void ApicIds_FollowTheDevicesTheyDescribe()
    {
        Array.Clear(_ram);
        BiosDataArea.Write(WritePhysical);
        new MpTableWriter { LocalApicId = 3, IoApicId = 4 }.Write(WritePhysical);
        var entries = ParseEntries();
        Assert.That(entries[0][1], Is.EqualTo(3));
        Assert.That(entries[2][1], Is.EqualTo(4));
        Assert.That(entries.Where(e => e[0] == 3).Select(e => e[6]), Is.All.EqualTo(4));
    }

    [Test]
    public void FloatingPointerInTheBiosRom_IsFoundByTheLastStepOfTheSearch()
    {
        Array.Clear(_ram);
        BiosDataArea.Write(WritePhysical);
        new MpTableWriter { FloatingPointerAddress = 0xF5A30 }.Write(WritePhysical);

        (int address, string where) = SearchLikeXv6();
        Assert.That((address, where), Is.EqualTo((0xF5A30, "BIOS ROM")));
    }

    [Test]
    public void MisalignedFloatingPointer_IsRefused()
    {
        Assert.Throws<InvalidOperationException>(() => new MpTableWriter { FloatingPointerAddress = 0x9FC08 }.Write(WritePhysical));
    }

    private List<byte[]> ParseEntries()
    {
        int table = (int)Dword((uint)SearchLikeXv6().Address + 4);
        int count = Word((uint)table + 34);
        var entries = new List<byte[]>();
        int p = table + 44;
        for (int i = 0; i < count; i++)
        {
            int length = _ram[p] == 0 ? 20 : 8;
            entries.Add(_ram.AsSpan(p, length).ToArray());
            p += length;
        }
        Assert.That(p, Is.EqualTo(table + Word((uint)table + 4)), "the entries fill the table exactly");
        return entries;
    }
}

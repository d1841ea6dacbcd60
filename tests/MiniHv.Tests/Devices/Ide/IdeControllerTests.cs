using System.Buffers.Binary;
using System.Text;
using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Ide;

namespace MiniHv.Tests.Devices.Ide;

public class IdeControllerTests
{
    private const byte Ready = 0x50;        // DRDY | DSC
    private const byte DataReady = 0x58;    // DRDY | DSC | DRQ
    private const byte ReadyError = 0x51;   // DRDY | DSC | ERR
    private const byte Aborted = 0x41;      // DRDY | ERR, as QEMU's aborts

    private IoBus _bus = null!;
    private RecordingIrqLines _irqs = null!;
    private byte[] _masterImage = null!;
    private IdeController _ide = null!;

    [SetUp]
    public void SetUp()
    {
        _masterImage = Pattern(300 * 512);
        Create(IdeDisk.FromBytes(_masterImage));
    }

    private void Create(IdeDisk? master, IdeDisk? slave = null)
    {
        _bus = new IoBus();
        _irqs = new RecordingIrqLines();
        _ide = new IdeController(_irqs, master, slave);
        _ide.Attach(_bus);
    }

    private static byte[] Pattern(int length, int seed = 3)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private byte Status() => (byte)_bus.In(0x1F7, 1);

    private byte AltStatus() => (byte)_bus.In(0x3F6, 1);

    /// <summary>The task file for an LBA28 command, as xv6's idestart and JOS's ide_read write it.</summary>
    private void Command(byte command, long lba, int count, int device = 0)
    {
        _bus.Out(0x1F2, 1, (uint)(count & 0xFF));
        _bus.Out(0x1F3, 1, (uint)(lba & 0xFF));
        _bus.Out(0x1F4, 1, (uint)(lba >> 8 & 0xFF));
        _bus.Out(0x1F5, 1, (uint)(lba >> 16 & 0xFF));
        _bus.Out(0x1F6, 1, (uint)(0xE0 | device << 4 | (int)(lba >> 24 & 0x0F)));
        _bus.Out(0x1F7, 1, command);
    }

    /// <summary>insl(0x1F0, buffer, 128): one sector as 32-bit reads.</summary>
    private byte[] ReadSectorDwords()
    {
        var sector = new byte[512];
        for (int i = 0; i < 128; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(sector.AsSpan(4 * i), _bus.In(0x1F0, 4));
        return sector;
    }

    private void WriteSectorDwords(ReadOnlySpan<byte> sector)
    {
        for (int i = 0; i < 128; i++)
            _bus.Out(0x1F0, 4, BinaryPrimitives.ReadUInt32LittleEndian(sector[(4 * i)..]));
    }

    private ushort[] Identify(int device = 0)
    {
        _bus.Out(0x1F6, 1, (uint)(0xA0 | device << 4));
        _bus.Out(0x1F7, 1, 0xEC);
        Assert.That(Status(), Is.EqualTo(DataReady));
        var words = new ushort[256];
        for (int i = 0; i < 256; i++)
            words[i] = (ushort)_bus.In(0x1F0, 2);
        return words;
    }

    private static string AtaString(ushort[] words, int first, int count)
    {
        var text = new StringBuilder();
        for (int i = first; i < first + count; i++)
            text.Append((char)(words[i] >> 8)).Append((char)(words[i] & 0xFF));
        return text.ToString();
    }

    [Test]
    public void AtPowerOn_MasterIsReadyWithTheAtaSignature()
    {
        Assert.That(Status(), Is.EqualTo(Ready));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x01), "diagnostic code: passed");
        Assert.That(_bus.In(0x1F2, 1), Is.EqualTo(1));
        Assert.That(_bus.In(0x1F3, 1), Is.EqualTo(1));
        Assert.That(_bus.In(0x1F4, 1), Is.Zero);
        Assert.That(_bus.In(0x1F5, 1), Is.Zero, "0x00/0x00: ATA, not ATAPI (0x14/0xEB)");
        Assert.That(_irqs.IsHigh(14), Is.False);
    }

    [Test]
    public void Identify_ReportsModelSerialGeometryAndLba28Capacity()
    {
        ushort[] words = Identify();

        Assert.That(words[0], Is.EqualTo(0x0040), "fixed ATA device");
        Assert.That(AtaString(words, 27, 20), Is.EqualTo("MiniHv HARDDISK".PadRight(40)));
        Assert.That(AtaString(words, 10, 10), Is.EqualTo(IdeController.SerialNumber(0)));
        Assert.That(AtaString(words, 23, 4), Is.EqualTo("1.0".PadRight(8)));
        Assert.That(words[49] & 0x0200, Is.EqualTo(0x0200), "LBA supported");
        Assert.That(words[60] | words[61] << 16, Is.EqualTo(300), "LBA28 sectors");
        Assert.That((words[1], words[3], words[6]), Is.EqualTo(((ushort)1, (ushort)16, (ushort)63)));
        Assert.That(words[83] & 0xC000, Is.EqualTo(0x4000), "words 82-84 are valid");
        Assert.That(words[255] & 0xFF, Is.EqualTo(0xA5));
        Assert.That(Status(), Is.EqualTo(Ready), "the block is over");
    }

    [Test]
    public void Identify_StringsComeOutByteSwappedInTheDataStream()
    {
        _bus.Out(0x1F7, 1, 0xEC);
        var bytes = new byte[512];
        for (int i = 0; i < 512; i++)
            bytes[i] = (byte)_bus.In(0x1F0, 1);
        Assert.That(Encoding.ASCII.GetString(bytes, 54, 8), Is.EqualTo("iMinvHH "));
        int sum = 0;
        foreach (byte b in bytes)
            sum += b;
        Assert.That(sum & 0xFF, Is.Zero, "integrity word checksum");
    }

    [Test]
    public void Identify_CapsCapacityAtLba28AndCylindersAt16383()
    {
        Create(IdeDisk.FromStream(new PatternStream(0x2_0000_0000L * 512)));
        ushort[] words = Identify();
        Assert.That((uint)(words[60] | words[61] << 16), Is.EqualTo(0x0FFF_FFFFu));
        Assert.That(words[1], Is.EqualTo(16383));
    }

    [Test]
    public void ReadSectors_DeliversTheSectorThroughTheDataPort()
    {
        Command(0x20, lba: 17, count: 1);
        Assert.That(Status(), Is.EqualTo(DataReady));
        Assert.That(ReadSectorDwords(), Is.EqualTo(_masterImage[(17 * 512)..(18 * 512)]));
        Assert.That(Status(), Is.EqualTo(Ready));
    }

    [Test]
    public void ReadSectors_MultipleSectorsComeOneBlockAfterAnother()
    {
        Command(0x21, lba: 40, count: 3);
        var data = new List<byte>();
        for (int i = 0; i < 3; i++)
        {
            Assert.That(Status(), Is.EqualTo(DataReady), $"block {i}");
            data.AddRange(ReadSectorDwords());
        }
        Assert.That(Status(), Is.EqualTo(Ready));
        Assert.That(data, Is.EqualTo(_masterImage[(40 * 512)..(43 * 512)]));
    }

    [Test]
    public void SectorCountZero_Means256()
    {
        Command(0x20, lba: 10, count: 0);
        var data = new List<byte>();
        while (Status() == DataReady)
            data.AddRange(ReadSectorDwords());
        Assert.That(data, Has.Count.EqualTo(256 * 512));
        Assert.That(data.ToArray().AsSpan().SequenceEqual(_masterImage.AsSpan(10 * 512, 256 * 512)), Is.True);
    }

    [Test]
    public void WriteSectors_LandOnTheDiskByteForByte_AndReadBack()
    {
        byte[] written = Pattern(2 * 512, seed: 99);
        Command(0x30, lba: 100, count: 2);
        Assert.That(Status(), Is.EqualTo(DataReady), "the first block is asked for at once");
        WriteSectorDwords(written.AsSpan(0, 512));
        Assert.That(Status(), Is.EqualTo(DataReady));
        WriteSectorDwords(written.AsSpan(512, 512));
        Assert.That(Status(), Is.EqualTo(Ready));
        Assert.That(_masterImage[(100 * 512)..(102 * 512)], Is.EqualTo(written));

        Command(0x20, lba: 100, count: 2);
        var back = ReadSectorDwords().Concat(ReadSectorDwords()).ToArray();
        Assert.That(back, Is.EqualTo(written));
    }

    [Test]
    public void WordAndByteAccessesToTheDataPort_MoveTheSameBytes()
    {
        Command(0x20, lba: 3, count: 1);
        var sector = new List<byte>();
        for (int i = 0; i < 64; i++)
        {
            ushort w = (ushort)_bus.In(0x1F0, 2);
            sector.Add((byte)w);
            sector.Add((byte)(w >> 8));
        }
        for (int i = 0; i < 128; i++)
            sector.Add((byte)_bus.In(0x1F0, 1));
        for (int i = 0; i < 64; i++)
        {
            uint d = _bus.In(0x1F0, 4);
            sector.AddRange(BitConverter.GetBytes(d));
        }
        Assert.That(sector, Is.EqualTo(_masterImage[(3 * 512)..(4 * 512)]));
    }

    [Test]
    public void Lba28_TakesAddressBits24To27FromTheDeviceRegister()
    {
        var stream = new PatternStream(0x1000_0000L * 512);
        Create(IdeDisk.FromStream(stream));
        const long lba = 0x0ABC_DEF1;
        Command(0x20, lba, 1);
        Assert.That(ReadSectorDwords(), Is.EqualTo(PatternStream.SectorAt(lba)));
    }

    [Test]
    public void ChsAddress_UsesSixteenHeadsAndSixtyThreeSectors()
    {
        // cylinder 0, head 2, sector 5 is LBA (0 * 16 + 2) * 63 + 4 = 130.
        _bus.Out(0x1F2, 1, 1);
        _bus.Out(0x1F3, 1, 5);
        _bus.Out(0x1F4, 1, 0);
        _bus.Out(0x1F5, 1, 0);
        _bus.Out(0x1F6, 1, 0xA0 | 2);
        _bus.Out(0x1F7, 1, 0x20);
        Assert.That(ReadSectorDwords(), Is.EqualTo(_masterImage[(130 * 512)..(131 * 512)]));

        _bus.Out(0x1F3, 1, 0); // sector numbers start at 1
        _bus.Out(0x1F7, 1, 0x20);
        Assert.That(Status(), Is.EqualTo(ReadyError));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x10), "IDNF");
    }

    [TestCase(0x20, 300L, 1)]
    [TestCase(0x20, 299L, 2)]
    [TestCase(0x20, 100L, 0)]
    [TestCase(0x30, 300L, 1)]
    [TestCase(0x30, 299L, 2)]
    [TestCase(0x30, 0x0FFF_FFFFL, 255)]
    public void RangePastTheEndOfTheDisk_FailsWithIdnf_AndMovesNoData(int command, long lba, int count)
    {
        byte[] before = (byte[])_masterImage.Clone();
        Command((byte)command, lba, count);

        Assert.That(Status(), Is.EqualTo(ReadyError));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x10), "IDNF");
        WriteSectorDwords(new byte[512]);
        Assert.That(_masterImage.AsSpan().SequenceEqual(before), Is.True, "the disk is unchanged");
        Assert.That(_bus.In(0x1F0, 2), Is.Zero, "no data to read");
    }

    [TestCase(0xC8, TestName = "ReadDma_IsAborted")]
    [TestCase(0xA1, TestName = "IdentifyPacketDevice_IsAborted")]
    [TestCase(0xC4, TestName = "ReadMultiple_IsAborted")]
    [TestCase(0x00, TestName = "Nop_IsAborted")]
    public void UnknownCommand_FailsWithAbrtAndInterrupts(int command)
    {
        _bus.Out(0x1F7, 1, (uint)command);
        Assert.That(_irqs.IsHigh(14), Is.True);
        Assert.That(Status(), Is.EqualTo(Aborted));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x04), "ABRT");
    }

    [Test]
    public void NextCommand_ClearsTheError()
    {
        _bus.Out(0x1F7, 1, 0xC8);
        Command(0x20, 0, 1);
        Assert.That(Status(), Is.EqualTo(DataReady));
        Assert.That(_bus.In(0x1F1, 1), Is.Zero);
    }

    [Test]
    public void SimpleCommands_CompleteWithAnInterrupt()
    {
        foreach (byte command in new byte[] { 0x10, 0x70, 0x91, 0xE7, 0xE0, 0xE1, 0x40 })
        {
            Command(command, 0, 1);
            Assert.That(_irqs.IsHigh(14), Is.True, $"command {command:X2}");
            Assert.That(Status(), Is.EqualTo(Ready), $"command {command:X2}");
        }
        _bus.Out(0x1F1, 1, 0x03); // set transfer mode
        _bus.Out(0x1F7, 1, 0xEF);
        Assert.That(Status(), Is.EqualTo(Ready));
        _bus.Out(0x1F1, 1, 0x42); // an unsupported feature
        _bus.Out(0x1F7, 1, 0xEF);
        Assert.That(Status(), Is.EqualTo(Aborted));

        _bus.Out(0x1F7, 1, 0xE5);
        Assert.That(_bus.In(0x1F2, 1), Is.EqualTo(0xFF), "CHECK POWER MODE: active");
    }

    [Test]
    public void ReadInterrupts_OncePerBlock_AndStatusReadClearsIt()
    {
        Command(0x20, lba: 0, count: 2);
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(1));
        Assert.That(AltStatus(), Is.EqualTo(DataReady));
        Assert.That(_irqs.IsHigh(14), Is.True, "the alternate status leaves the interrupt alone");
        Assert.That(Status(), Is.EqualTo(DataReady));
        Assert.That(_irqs.IsHigh(14), Is.False);

        _ = ReadSectorDwords();
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(2), "second block ready");
        _ = Status();
        _ = ReadSectorDwords();
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(2), "no interrupt after the last block of a read");
    }

    [Test]
    public void WriteInterrupts_AfterEachBlock_NotForTheFirstRequest()
    {
        Command(0x30, lba: 0, count: 2);
        Assert.That(_irqs.IsHigh(14), Is.False);
        WriteSectorDwords(new byte[512]);
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(1));
        _ = Status();
        WriteSectorDwords(new byte[512]);
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(2), "command complete");
    }

    [Test]
    public void CommandWrittenWhileAnInterruptIsUnread_DropsTheLineSoItsOwnInterruptIsAFreshEdge()
    {
        Command(0x10, 0, 1);
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(1));
        Command(0x20, 0, 1); // no status read in between: an edge-triggered controller still needs an edge
        Assert.That(_irqs.RisingEdges(14), Is.EqualTo(2));
        Assert.That(_irqs.IsHigh(14), Is.True);
    }

    [Test]
    public void InterruptDisable_HoldsTheLineLow_UntilCleared()
    {
        _bus.Out(0x3F6, 1, 0x02);
        Command(0x20, lba: 0, count: 1);
        Assert.That(_irqs.IsHigh(14), Is.False);

        _bus.Out(0x3F6, 1, 0x00);
        Assert.That(_irqs.IsHigh(14), Is.True, "the drive still has its request");
        _ = Status();
        Assert.That(_irqs.IsHigh(14), Is.False);
    }

    [Test]
    public void SoftwareReset_ShowsBusy_ThenReloadsTheSignatureAndSelectsTheMaster()
    {
        Create(IdeDisk.FromBytes(_masterImage), IdeDisk.FromBytes(new byte[4 * 512]));
        _bus.Out(0x1F6, 1, 0xF0);
        Command(0x20, 0, 1, device: 1);

        _bus.Out(0x3F6, 1, 0x04);
        Assert.That(AltStatus(), Is.EqualTo(0x80), "BSY during reset");
        _bus.Out(0x3F6, 1, 0x00);

        Assert.That(Status(), Is.EqualTo(Ready));
        Assert.That(_bus.In(0x1F6, 1) & 0x10, Is.Zero, "device 0 selected");
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x01));
        Assert.That((_bus.In(0x1F2, 1), _bus.In(0x1F3, 1), _bus.In(0x1F4, 1), _bus.In(0x1F5, 1)), Is.EqualTo((1u, 1u, 0u, 0u)));
        Assert.That(_bus.In(0x1F0, 2), Is.Zero, "the transfer was abandoned");
        Assert.That(_irqs.IsHigh(14), Is.False);
    }

    private (uint Error, uint Count, uint LbaLow, uint LbaMid, uint LbaHigh, uint Device) TaskFile()
        => (_bus.In(0x1F1, 1), _bus.In(0x1F2, 1), _bus.In(0x1F3, 1), _bus.In(0x1F4, 1), _bus.In(0x1F5, 1), _bus.In(0x1F6, 1));

    [Test]
    public void MissingSlave_ShowsNoStatusOrError_SoXv6sProbeFindsNoDisk1_AndItsSignatureIsFF()
    {
        // xv6's ideinit: select disk 1, then look for a non-zero status for a while.
        _bus.Out(0x1F6, 1, 0xE0 | 1 << 4);
        bool haveDisk1 = false;
        for (int i = 0; i < 1000 && !haveDisk1; i++)
            haveDisk1 = _bus.In(0x1F7, 1) != 0;
        Assert.That(haveDisk1, Is.False);
        Assert.That(AltStatus(), Is.Zero);
        Assert.That(TaskFile(), Is.EqualTo((0u, 1u, 1u, 0xFFu, 0xFFu, 0xF0u)), "QEMU: error 0, the absent device's own signature");

        _bus.Out(0x1F7, 1, 0x20);
        Assert.That(_irqs.IsHigh(14), Is.False, "commands to a missing device 1 are ignored");

        _bus.Out(0x1F6, 1, 0xE0);
        Assert.That(Status(), Is.EqualTo(Ready), "the master is still there");
        Assert.That(TaskFile(), Is.EqualTo((1u, 1u, 1u, 0u, 0u, 0xE0u)));
    }

    [Test]
    public void MissingMaster_BesideASlave_IsReady_SoXv6sFirstWaitEnds_AndAbortsIdentify()
    {
        Create(null, IdeDisk.FromBytes(new byte[4 * 512]));
        Assert.That(Status(), Is.EqualTo(Ready), "device 0 selected at power-on, as xv6's idewait finds it");
        Assert.That(TaskFile(), Is.EqualTo((1u, 1u, 1u, 0xFFu, 0xFFu, 0xA0u)));

        _bus.Out(0x1F6, 1, 0xA0);
        _bus.Out(0x1F7, 1, 0xEC);
        Assert.That(AltStatus(), Is.EqualTo(Aborted), "IDENTIFY aborted");
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x04), "ABRT");
        Assert.That(_irqs.IsHigh(14), Is.True, "an aborted command still interrupts");
        Assert.That(_bus.In(0x1F0, 2), Is.Zero, "no data");

        _bus.Out(0x1F6, 1, 0xB0);
        Assert.That(Status(), Is.EqualTo(Ready), "device 1 answers for itself");
        Assert.That(AtaString(Identify(device: 1), 10, 10), Is.EqualTo(IdeController.SerialNumber(1)));
    }

    [Test]
    public void NoDrivesAtAll_EveryRegisterReadsZero_AndCommandsAreIgnored()
    {
        Create(null);
        Assert.That(Status(), Is.Zero, "so busy waits end");
        Assert.That(AltStatus(), Is.Zero);
        Assert.That(TaskFile(), Is.EqualTo((0u, 0u, 0u, 0u, 0u, 0u)));
        _bus.Out(0x1F6, 1, 0xA0);
        _bus.Out(0x1F7, 1, 0xEC);
        Assert.That(Status(), Is.Zero);
        Assert.That(_irqs.IsHigh(14), Is.False);
    }

    [Test]
    public void Slave_ReadsAndWritesItsOwnDisk()
    {
        byte[] slaveImage = Pattern(8 * 512, seed: 5);
        Create(IdeDisk.FromBytes(_masterImage), IdeDisk.FromBytes(slaveImage));

        Command(0x20, lba: 2, count: 1, device: 1);
        Assert.That(ReadSectorDwords(), Is.EqualTo(slaveImage[1024..1536]));

        byte[] data = Pattern(512, seed: 6);
        Command(0x30, lba: 7, count: 1, device: 1);
        WriteSectorDwords(data);
        Assert.That(slaveImage[(7 * 512)..], Is.EqualTo(data));
        Assert.That(AtaString(Identify(device: 1), 10, 10), Is.EqualTo(IdeController.SerialNumber(1)));
    }

    [Test]
    public void InterruptFollowsTheSelectedDrive()
    {
        Create(IdeDisk.FromBytes(_masterImage), IdeDisk.FromBytes(new byte[4 * 512]));
        Command(0x10, 0, 1, device: 0);
        Assert.That(_irqs.IsHigh(14), Is.True);
        _bus.Out(0x1F6, 1, 0xF0);
        Assert.That(_irqs.IsHigh(14), Is.False, "device 1 has no request");
        _bus.Out(0x1F6, 1, 0xE0);
        Assert.That(_irqs.IsHigh(14), Is.True);
    }

    [Test]
    public void SnapshotDisk_GuestSeesItsWrites_TheImageDoesNot()
    {
        byte[] image = Pattern(16 * 512, seed: 8);
        byte[] before = (byte[])image.Clone();
        Create(IdeDisk.FromBytes(image, snapshot: true));

        byte[] data = Pattern(512, seed: 9);
        Command(0x30, lba: 4, count: 1);
        WriteSectorDwords(data);
        _bus.Out(0x1F7, 1, 0xE7); // FLUSH CACHE
        Assert.That(Status(), Is.EqualTo(Ready));

        Command(0x20, lba: 4, count: 1);
        Assert.That(ReadSectorDwords(), Is.EqualTo(data));
        Assert.That(image, Is.EqualTo(before));
    }

    [Test]
    public void HostIoErrorDuringRead_IsAnAtaError()
    {
        var stream = new MemoryStream(Pattern(8 * 512));
        Create(IdeDisk.FromStream(stream, leaveOpen: true));
        stream.Dispose();

        Command(0x20, 0, 1);
        Assert.That(Status(), Is.EqualTo(ReadyError));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x40), "UNC");

        Command(0x30, 0, 1);
        WriteSectorDwords(new byte[512]);
        Assert.That(Status(), Is.EqualTo(Aborted));
        Assert.That(_bus.In(0x1F1, 1), Is.EqualTo(0x04), "ABRT");
    }

    [Test]
    public void WideAccessToATaskFileRegister_ReachesConsecutiveRegisters()
    {
        _bus.Out(0x1F2, 2, 0x0503); // sector count 3, LBA low 5
        Assert.That(_bus.In(0x1F2, 1), Is.EqualTo(3));
        Assert.That(_bus.In(0x1F3, 1), Is.EqualTo(5));
        Assert.That(_bus.In(0x1F2, 4), Is.EqualTo(0x0000_0503u), "count, LBA low, then the signature's zeros");
    }

    [Test]
    public void AnyAccess_NeverThrows()
    {
        Create(IdeDisk.FromBytes(Pattern(64 * 512)), IdeDisk.FromBytes(Pattern(3 * 512)));
        var random = new Random(42);
        ushort[] ports = [0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7, 0x3F6];
        int[] sizes = [1, 2, 4];
        Assert.DoesNotThrow(() =>
        {
            for (int i = 0; i < 200_000; i++)
            {
                ushort port = ports[random.Next(ports.Length)];
                int size = sizes[random.Next(3)];
                if (random.Next(2) == 0)
                    _ = _bus.In(port, size);
                else
                    _bus.Out(port, size, (uint)random.Next() | (uint)random.Next(2) << 31);
            }
        });
    }

    /// <summary>A read-only disk image of any length whose every sector is a known function of its LBA.</summary>
    private sealed class PatternStream(long length) : Stream
    {
        public static byte[] SectorAt(long lba)
        {
            var sector = new byte[512];
            for (int i = 0; i < 512; i += 8)
                BinaryPrimitives.WriteInt64LittleEndian(sector.AsSpan(i), lba * 512 + i);
            return sector;
        }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get; set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, Length - Position);
            for (int i = 0; i < n; i++)
            {
                // Byte k of the 8-byte word at position p holds byte k of p itself, as SectorAt lays it out.
                long at = Position + i;
                buffer[offset + i] = (byte)((at & ~7L) >> (int)(8 * (at & 7)));
            }
            Position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => Position = offset;
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

using static MiniHv.Hv.Devices.Ide.AtaRegisters;

namespace MiniHv.Hv.Devices.Ide;

/// <summary>
/// One IDE channel (primary by default: ports 0x1F0-0x1F7 and 0x3F6, IRQ 14) with a master and a slave ATA
/// hard disk, each backed by an <see cref="IdeDisk"/>, doing PIO transfers with LBA28 or CHS addresses.
/// </summary>
/// <remarks>
/// <para>
/// Drives are instantaneous: a command completes, or has its first sector ready, by the time the
/// command register write returns, so BSY never shows (except during a software reset). The register
/// map is in <see cref="AtaRegisters"/>. Both device slots latch every write to the task file; reads come
/// from the selected one, and a reset or a diagnostic loads each slot's own signature.
/// </para>
/// <para>
/// Absent drives answer as QEMU's (tests/kernels/ideregs.c prints them; tests/golden/ide holds QEMU's
/// transcripts). A channel with no drive reads 0 in every register and ignores commands, so loops waiting
/// for BSY to clear end at once. An absent device 1 beside a device 0 reads 0 as status, alternate status
/// and error, so probes that wait for a non-zero status see no drive (xv6), and ignores commands; its
/// other registers read its task file, whose signature has LBA mid/high 0xFF. An absent device 0 beside a
/// device 1 reads as a ready drive (status 0x50, so xv6's first wait, with device 0 selected, ends) with
/// that 0xFF signature, and aborts every command but EXECUTE DEVICE DIAGNOSTIC (IDENTIFY gives status 0x41,
/// error ABRT).
/// </para>
/// <para>
/// Commands: IDENTIFY DEVICE, READ/WRITE SECTORS (sector count 0 is 256), READ VERIFY, FLUSH CACHE,
/// SET FEATURES (transfer mode, write cache, look-ahead, power-on defaults), INITIALIZE DEVICE PARAMETERS
/// and RECALIBRATE, SEEK, the power commands and EXECUTE DEVICE DIAGNOSTIC complete; anything else aborts
/// with ABRT and status 0x41 (DRDY, ERR). CHS addresses use the 16-head, 63-sector translation IDENTIFY
/// reports whatever INITIALIZE DEVICE PARAMETERS asked for. A range that runs past the end of the disk fails with IDNF before any data moves;
/// a host I/O error fails a read with UNC and a write with ABRT. The task file is left as written
/// (no address is reported for a failure).
/// </para>
/// <para>
/// Interrupts: a drive asks for one when a PIO-in block is ready, when a PIO-out block has been taken
/// (the last one completing the command) and when a non-data command completes. INTRQ drives the IRQ line
/// while the selected drive has a request and nIEN is clear; reading the status register or writing a
/// command clears the request; the alternate status does not.
/// </para>
/// </remarks>
public sealed class IdeController : IPortDevice
{
    public const ushort PrimaryCommandBase = 0x1F0;
    public const ushort PrimaryControlPort = 0x3F6;
    public const int PrimaryIrq = 14;

    private const byte Idle = StatusReady | StatusSeekComplete;

    private readonly IIrqLines _irqs;
    private readonly int _irq;
    private readonly Drive[] _drives = new Drive[2];

    // The registers both slots share; the rest of the task file is per slot (see Drive).
    private byte _features;
    private byte _deviceHead;
    private byte _control;
    private bool _irqLevel;

    /// <param name="irqs">The interrupt lines; the channel drives <paramref name="irq"/>.</param>
    /// <param name="master">Device 0, or null for none.</param>
    /// <param name="slave">Device 1, or null for none.</param>
    public IdeController(IIrqLines irqs, IdeDisk? master, IdeDisk? slave = null,
        ushort commandBase = PrimaryCommandBase, ushort controlPort = PrimaryControlPort, int irq = PrimaryIrq)
    {
        ArgumentNullException.ThrowIfNull(irqs);
        _irqs = irqs;
        _irq = irq;
        CommandBase = commandBase;
        ControlPort = controlPort;
        _drives[0] = new Drive(master, SerialNumber(0));
        _drives[1] = new Drive(slave, SerialNumber(1));
        LoadSignature();
    }

    public ushort CommandBase { get; }

    public ushort ControlPort { get; }

    public IdeDisk? Master => _drives[0].Disk;

    public IdeDisk? Slave => _drives[1].Disk;

    /// <summary>True while the channel drives its IRQ line high.</summary>
    public bool IrqAsserted => _irqLevel;

    /// <summary>The 20-character serial number IDENTIFY reports for device <paramref name="device"/>.</summary>
    public static string SerialNumber(int device) => $"MINIHV{device:D14}";

    /// <summary>Claims the eight command block ports (the data port takes 16- and 32-bit accesses whole) and the control port.</summary>
    public void Attach(IoBus bus)
    {
        bus.Register(CommandBase, 8, this, PortWidths.All);
        bus.Register(ControlPort, 1, this);
    }

    public uint ReadPort(ushort port, int size)
    {
        if (port == ControlPort)
            return AlternateStatus();
        int register = port - CommandBase;
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            // The data port moves data for every byte of the access; another port's wide access reads the registers in turn.
            byte b = register == Data ? ReadDataByte() : ReadRegister(register + i);
            value |= (uint)b << (8 * i);
        }
        return value;
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (port == ControlPort)
        {
            WriteDeviceControl((byte)value);
            return;
        }
        int register = port - CommandBase;
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            if (register == Data)
                WriteDataByte(b);
            else
                WriteRegister(register + i, b);
        }
    }

    private Drive Selected => _drives[(_deviceHead & DeviceHeadSlave) != 0 ? 1 : 0];

    private bool NoDrives => _drives[0].Disk is null && _drives[1].Disk is null;

    // An absent device 1 (beside a device 0) shows no status or error and ignores commands.
    private bool IsSilent(Drive drive) => drive.Disk is null && drive == _drives[1];

    private bool InReset => (_control & ControlSoftwareReset) != 0;

    private byte AlternateStatus() => NoDrives || IsSilent(Selected) ? (byte)0 : StatusOf(Selected);

    private byte StatusOf(Drive drive) => InReset ? StatusBusy : drive.Status;

    private byte ReadRegister(int register)
    {
        if (NoDrives)
            return 0;
        Drive drive = Selected;
        switch (register)
        {
            case AtaRegisters.Error:
                return IsSilent(drive) ? (byte)0 : drive.Error;
            case AtaRegisters.SectorCount:
                return drive.SectorCount;
            case LbaLow:
                return drive.LbaLow;
            case LbaMid:
                return drive.LbaMid;
            case LbaHigh:
                return drive.LbaHigh;
            case DeviceHead:
                return (byte)(_deviceHead | 0xA0);
            case AtaRegisters.Status:
                if (IsSilent(drive))
                    return 0;
                byte status = StatusOf(drive);
                drive.InterruptRequested = false;
                UpdateIrq();
                return status;
            default:
                return 0xFF; // past the command block: only a wide access that ran off its end gets here
        }
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Features:
                _features = value;
                break;
            case AtaRegisters.SectorCount:
                foreach (Drive drive in _drives)
                    drive.SectorCount = value;
                break;
            case LbaLow:
                foreach (Drive drive in _drives)
                    drive.LbaLow = value;
                break;
            case LbaMid:
                foreach (Drive drive in _drives)
                    drive.LbaMid = value;
                break;
            case LbaHigh:
                foreach (Drive drive in _drives)
                    drive.LbaHigh = value;
                break;
            case DeviceHead:
                _deviceHead = value;
                UpdateIrq(); // only the selected drive drives INTRQ
                break;
            case Command:
                if (!InReset && !NoDrives && !IsSilent(Selected))
                    Execute(Selected, value);
                break;
        }
    }

    private void WriteDeviceControl(byte value)
    {
        bool wasInReset = InReset;
        _control = value;
        if (InReset && !wasInReset)
        {
            foreach (Drive drive in _drives)
            {
                drive.EndTransfer();
                drive.InterruptRequested = false;
            }
        }
        else if (!InReset && wasInReset)
        {
            // Reset ends with each slot's signature loaded and device 0 selected; it asks for no interrupt.
            LoadSignature();
        }
        UpdateIrq();
    }

    private byte ReadDataByte()
    {
        if (Selected is not { Transfer: Transfer.In } drive)
            return 0;
        byte b = drive.Buffer[drive.Position++];
        if (drive.Position == IdeDisk.SectorSize)
        {
            if (drive.SectorsLeft > 0)
                ReadNextSector(drive);
            else
                drive.EndTransfer();
        }
        return b;
    }

    private void WriteDataByte(byte value)
    {
        if (Selected is not { Transfer: Transfer.Out } drive)
            return;
        drive.Buffer[drive.Position++] = value;
        if (drive.Position < IdeDisk.SectorSize)
            return;

        if (!drive.Disk!.WriteSector(drive.NextLba, drive.Buffer))
        {
            Fail(drive, ErrorAbort);
            return;
        }
        drive.NextLba++;
        drive.SectorsLeft--;
        if (drive.SectorsLeft > 0)
            drive.Position = 0;
        else
            drive.EndTransfer();
        Interrupt(drive);
    }

    private void Execute(Drive drive, byte command)
    {
        drive.EndTransfer();
        drive.InterruptRequested = false;
        UpdateIrq(); // writing a command drops INTRQ, so the command's own interrupt is a fresh edge
        drive.Error = 0;
        if (drive.Disk is null && command != CommandExecuteDeviceDiagnostic)
        {
            Fail(drive, ErrorAbort); // an absent device 0 beside a device 1
            return;
        }

        switch (command)
        {
            case CommandIdentifyDevice:
                AtaIdentify.Build(drive.Disk!, drive.Serial).CopyTo(drive.Buffer, 0);
                drive.StartTransfer(Transfer.In, 0, 0);
                Interrupt(drive);
                break;
            case CommandReadSectors:
            case CommandReadSectorsNoRetry:
                if (TryRange(drive, out long lba, out int count))
                {
                    drive.StartTransfer(Transfer.In, lba, count);
                    ReadNextSector(drive);
                }
                break;
            case CommandWriteSectors:
            case CommandWriteSectorsNoRetry:
                // PIO out: the first block is requested at once, without an interrupt.
                if (TryRange(drive, out lba, out count))
                    drive.StartTransfer(Transfer.Out, lba, count);
                break;
            case CommandReadVerifySectors:
            case CommandReadVerifySectorsNoRetry:
                if (TryRange(drive, out _, out _))
                    Complete(drive);
                break;
            case CommandFlushCache:
                if (drive.Disk!.Flush())
                    Complete(drive);
                else
                    Fail(drive, ErrorAbort);
                break;
            case CommandSetFeatures:
                if (_features is FeatureEnableWriteCache or FeatureSetTransferMode or FeatureDisableWriteCache
                    or 0x55 or 0xAA or 0x66 or 0xCC) // read look-ahead off/on, power-on defaults off/on
                    Complete(drive);
                else
                    Fail(drive, ErrorAbort);
                break;
            case CommandCheckPowerMode:
                drive.SectorCount = 0xFF; // active or idle
                Complete(drive);
                break;
            case CommandExecuteDeviceDiagnostic:
                foreach (Drive d in _drives)
                    d.EndTransfer();
                LoadSignature();
                Interrupt(Selected);
                break;
            case CommandInitializeDeviceParameters:
            case >= CommandRecalibrate and <= 0x1F:
            case >= CommandSeek and <= 0x7F:
            case CommandStandbyImmediate:
            case CommandIdleImmediate:
            case CommandStandby:
            case CommandIdle:
                Complete(drive);
                break;
            default:
                Fail(drive, ErrorAbort);
                break;
        }
    }

    /// <summary>The command's first sector and count from the task file; false (and IDNF) when they do not fit the disk.</summary>
    private bool TryRange(Drive drive, out long lba, out int count)
    {
        count = drive.SectorCount == 0 ? 256 : drive.SectorCount;
        bool valid;
        if ((_deviceHead & DeviceHeadLba) != 0)
        {
            lba = (long)(_deviceHead & 0x0F) << 24 | (long)drive.LbaHigh << 16 | (long)drive.LbaMid << 8 | drive.LbaLow;
            valid = true;
        }
        else
        {
            int cylinder = drive.LbaHigh << 8 | drive.LbaMid;
            int head = _deviceHead & 0x0F;
            int sector = drive.LbaLow;
            lba = ((long)cylinder * AtaIdentify.Heads + head) * AtaIdentify.SectorsPerTrack + sector - 1;
            valid = sector is >= 1 and <= AtaIdentify.SectorsPerTrack;
        }
        long end = Math.Min(drive.Disk!.SectorCount, AtaIdentify.MaxLba28Sectors);
        if (valid && lba + count <= end)
            return true;
        Fail(drive, ErrorIdNotFound);
        return false;
    }

    private void ReadNextSector(Drive drive)
    {
        if (!drive.Disk!.ReadSector(drive.NextLba, drive.Buffer))
        {
            Fail(drive, ErrorUncorrectable);
            return;
        }
        drive.NextLba++;
        drive.SectorsLeft--;
        drive.Position = 0;
        Interrupt(drive);
    }

    private void Complete(Drive drive)
    {
        drive.EndTransfer();
        Interrupt(drive);
    }

    private void Fail(Drive drive, byte error)
    {
        drive.EndTransfer();
        drive.Error = error;
        // An abort clears DSC, as QEMU's does (tests/golden/ide); the other errors keep it.
        drive.Status = error == ErrorAbort ? (byte)(StatusReady | StatusError) : (byte)(Idle | StatusError);
        Interrupt(drive);
    }

    private void Interrupt(Drive drive)
    {
        drive.InterruptRequested = true;
        UpdateIrq();
    }

    /// <summary>
    /// Every slot after a reset or a diagnostic: ready, diagnostic passed, an ATA device's signature
    /// (LBA mid/high 0xFF where no drive is), device 0 selected.
    /// </summary>
    private void LoadSignature()
    {
        foreach (Drive drive in _drives)
        {
            drive.Status = Idle;
            drive.Error = DiagnosticPassed;
            drive.SectorCount = 1;
            drive.LbaLow = 1;
            drive.LbaMid = drive.LbaHigh = drive.Disk is null ? (byte)0xFF : (byte)0;
        }
        _deviceHead = 0;
    }

    private void UpdateIrq()
    {
        bool level = Selected.InterruptRequested && (_control & ControlInterruptDisable) == 0 && !InReset;
        if (level == _irqLevel)
            return;
        _irqLevel = level;
        if (level)
            _irqs.RaiseIrq(_irq);
        else
            _irqs.LowerIrq(_irq);
    }

    private enum Transfer
    {
        None,
        In,
        Out,
    }

    /// <summary>
    /// One device slot's own state, whether a drive is there or not: its status and error registers, its
    /// copy of the task file, its interrupt request and its PIO transfer.
    /// </summary>
    private sealed class Drive(IdeDisk? disk, string serial)
    {
        public readonly IdeDisk? Disk = disk;
        public readonly string Serial = serial;
        public readonly byte[] Buffer = new byte[IdeDisk.SectorSize];

        public byte Status = Idle;
        public byte Error = DiagnosticPassed;
        public byte SectorCount;
        public byte LbaLow;
        public byte LbaMid;
        public byte LbaHigh;
        public bool InterruptRequested;
        public Transfer Transfer;
        public int Position;     // next byte of Buffer to move
        public long NextLba;     // the sector the next block reads or writes
        public int SectorsLeft;  // in: sectors still to load after this block; out: blocks still to take, this one included

        public void StartTransfer(Transfer transfer, long lba, int count)
        {
            Transfer = transfer;
            Position = 0;
            NextLba = lba;
            SectorsLeft = count;
            Status = Idle | StatusDataRequest;
        }

        public void EndTransfer()
        {
            Transfer = Transfer.None;
            Status = Idle;
        }
    }
}

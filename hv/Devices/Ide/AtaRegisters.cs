namespace MiniHv.Hv.Devices.Ide;

/// <summary>The ATA register map of one IDE channel, its status and error bits, and the commands the drives carry out.</summary>
/// <remarks>
/// <code>
/// command block (primary: 0x1F0-0x1F7)
///   +0  data            16-bit PIO data; a 32-bit access moves two words, a byte access one byte
///   +1  error (R)       ABRT (2), IDNF (4), UNC (6)        features (W)
///   +2  sector count    0 means 256
///   +3  LBA 7-0         (CHS: sector number, from 1)
///   +4  LBA 15-8        (CHS: cylinder low)
///   +5  LBA 23-16       (CHS: cylinder high)
///   +6  device/head     bit 6 LBA, bit 4 device 1 (slave), bits 3-0 LBA 27-24 (CHS: head); bits 7 and 5 read as 1
///   +7  status (R)      BSY (7), DRDY (6), DF (5), DSC (4), DRQ (3), ERR (0); reading it clears the interrupt
///                       command (W)
/// control block (primary: 0x3F6)
///   alternate status (R)  the status, without clearing the interrupt
///   device control (W)    bit 1 nIEN (interrupt disabled), bit 2 SRST (software reset)
/// </code>
/// </remarks>
public static class AtaRegisters
{
    public const int Data = 0;
    public const int Error = 1;
    public const int Features = 1;
    public const int SectorCount = 2;
    public const int LbaLow = 3;
    public const int LbaMid = 4;
    public const int LbaHigh = 5;
    public const int DeviceHead = 6;
    public const int Status = 7;
    public const int Command = 7;

    public const byte StatusBusy = 0x80;
    public const byte StatusReady = 0x40;
    public const byte StatusDeviceFault = 0x20;
    public const byte StatusSeekComplete = 0x10;
    public const byte StatusDataRequest = 0x08;
    public const byte StatusError = 0x01;

    public const byte ErrorAbort = 0x04;
    public const byte ErrorIdNotFound = 0x10;
    public const byte ErrorUncorrectable = 0x40;

    /// <summary>What the error register holds after a reset or EXECUTE DEVICE DIAGNOSTIC: device 0 passed (and device 1, if present).</summary>
    public const byte DiagnosticPassed = 0x01;

    public const byte DeviceHeadLba = 0x40;
    public const byte DeviceHeadSlave = 0x10;

    public const byte ControlInterruptDisable = 0x02;
    public const byte ControlSoftwareReset = 0x04;

    public const byte CommandRecalibrate = 0x10;       // 0x10-0x1F
    public const byte CommandReadSectors = 0x20;
    public const byte CommandReadSectorsNoRetry = 0x21;
    public const byte CommandWriteSectors = 0x30;
    public const byte CommandWriteSectorsNoRetry = 0x31;
    public const byte CommandReadVerifySectors = 0x40;
    public const byte CommandReadVerifySectorsNoRetry = 0x41;
    public const byte CommandSeek = 0x70;              // 0x70-0x7F
    public const byte CommandExecuteDeviceDiagnostic = 0x90;
    public const byte CommandInitializeDeviceParameters = 0x91;
    public const byte CommandStandbyImmediate = 0xE0;
    public const byte CommandIdleImmediate = 0xE1;
    public const byte CommandStandby = 0xE2;
    public const byte CommandIdle = 0xE3;
    public const byte CommandCheckPowerMode = 0xE5;
    public const byte CommandFlushCache = 0xE7;
    public const byte CommandIdentifyDevice = 0xEC;
    public const byte CommandSetFeatures = 0xEF;

    public const byte FeatureEnableWriteCache = 0x02;
    public const byte FeatureSetTransferMode = 0x03;
    public const byte FeatureDisableWriteCache = 0x82;
}

namespace MiniHv.Hv.Devices.Apic;

/// <summary>The local APIC's register map: offsets from its base (0xFEE00000) and the fields of its registers.</summary>
/// <remarks>
/// Every register is 32 bits wide at the start of a 16-byte slot (Intel SDM vol. 3, table 10-1):
/// <code>
/// 0x020 ID             R/W  bits 31-24 APIC ID
/// 0x030 Version        R    0x00050014: version 0x14 (xAPIC), max LVT entry 5 (six LVTs)
/// 0x080 TPR            R/W  task priority, bits 7-0
/// 0x090 APR            R    arbitration priority
/// 0x0A0 PPR            R    processor priority: TPR, or the in-service class if higher
/// 0x0B0 EOI            W    any write ends the highest-priority interrupt in service
/// 0x0C0 RRD            R    remote read: always 0
/// 0x0D0 LDR            R/W  bits 31-24 logical APIC ID
/// 0x0E0 DFR            R/W  bits 31-28 model (1111 flat, 0000 cluster), bits 27-0 read as ones
/// 0x0F0 SVR            R/W  bits 7-0 spurious vector, bit 8 software enable, bit 9 focus check
/// 0x100-0x170 ISR      R    in-service vectors, eight words
/// 0x180-0x1F0 TMR      R    trigger mode of accepted vectors (1 = level)
/// 0x200-0x270 IRR      R    requested vectors
/// 0x280 ESR            R/W  error status; a write latches the errors seen since the last write
/// 0x300 ICR low        R/W  vector, delivery mode, destination mode, status (12), level, trigger, shorthand (19-18)
/// 0x310 ICR high       R/W  bits 31-24 destination
/// 0x320 LVT timer      R/W  vector, status, mask (16), periodic (17)
/// 0x330 LVT thermal    R/W  vector, delivery mode, status, mask
/// 0x340 LVT perf       R/W  vector, delivery mode, status, mask
/// 0x350 LVT LINT0      R/W  vector, delivery mode, status, polarity (13), remote IRR (14), trigger (15), mask
/// 0x360 LVT LINT1      R/W  as LINT0
/// 0x370 LVT error      R/W  vector, status, mask
/// 0x380 initial count  R/W  timer
/// 0x390 current count  R    timer
/// 0x3E0 divide config  R/W  bits 3, 1-0: 000 /2, 001 /4, 010 /8, 011 /16, 100 /32, 101 /64, 110 /128, 111 /1
/// </code>
/// </remarks>
public static class LocalApicRegisters
{
    public const uint Id = 0x020;
    public const uint Version = 0x030;
    public const uint TaskPriority = 0x080;
    public const uint ArbitrationPriority = 0x090;
    public const uint ProcessorPriority = 0x0A0;
    public const uint EndOfInterrupt = 0x0B0;
    public const uint RemoteRead = 0x0C0;
    public const uint LogicalDestination = 0x0D0;
    public const uint DestinationFormat = 0x0E0;
    public const uint SpuriousVector = 0x0F0;
    public const uint InServiceBase = 0x100;
    public const uint TriggerModeBase = 0x180;
    public const uint InterruptRequestBase = 0x200;
    public const uint ErrorStatus = 0x280;
    public const uint InterruptCommandLow = 0x300;
    public const uint InterruptCommandHigh = 0x310;
    public const uint LvtTimer = 0x320;
    public const uint LvtThermal = 0x330;
    public const uint LvtPerformance = 0x340;
    public const uint LvtLint0 = 0x350;
    public const uint LvtLint1 = 0x360;
    public const uint LvtError = 0x370;
    public const uint TimerInitialCount = 0x380;
    public const uint TimerCurrentCount = 0x390;
    public const uint TimerDivideConfiguration = 0x3E0;

    /// <summary>SVR bit 8: the APIC is software-enabled.</summary>
    public const uint SvrEnable = 1u << 8;

    /// <summary>SVR bit 9: focus processor checking (kept, meaningless with one CPU).</summary>
    public const uint SvrFocusDisable = 1u << 9;

    /// <summary>LVT, ICR and redirection entry bit 12: the interrupt is waiting to be accepted. Always 0 here: delivery is instant.</summary>
    public const uint DeliveryPending = 1u << 12;

    /// <summary>LVT bit 13: the LINT pin is active low.</summary>
    public const uint LvtActiveLow = 1u << 13;

    /// <summary>LVT bit 14: remote IRR of a level-triggered LINT pin.</summary>
    public const uint LvtRemoteIrr = 1u << 14;

    /// <summary>LVT bit 15: the LINT pin is level-triggered.</summary>
    public const uint LvtLevelTriggered = 1u << 15;

    /// <summary>LVT bit 16: the entry is masked.</summary>
    public const uint LvtMasked = 1u << 16;

    /// <summary>LVT timer bit 17: periodic rather than one-shot.</summary>
    public const uint LvtTimerPeriodic = 1u << 17;

    /// <summary>ICR bit 11: logical destination mode.</summary>
    public const uint IcrLogical = 1u << 11;

    /// <summary>ICR bit 14: assert (1) rather than de-assert, for INIT.</summary>
    public const uint IcrAssert = 1u << 14;

    /// <summary>ICR bit 15: level trigger, for INIT de-assert.</summary>
    public const uint IcrLevelTriggered = 1u << 15;

    /// <summary>ICR bits 19-18, destination shorthand: none, self, all including self, all excluding self.</summary>
    public const int IcrShorthandShift = 18;

    public const int DeliveryModeShift = 8;

    /// <summary>ESR bit 5: the APIC tried to send an IPI with a vector below 16.</summary>
    public const uint EsrSendIllegalVector = 1u << 5;

    /// <summary>ESR bit 6: the APIC was asked to accept an interrupt with a vector below 16.</summary>
    public const uint EsrReceiveIllegalVector = 1u << 6;

    /// <summary>ESR bit 7: the guest touched a reserved register.</summary>
    public const uint EsrIllegalRegisterAddress = 1u << 7;
}

using MiniHv.Cpu;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Hv.Devices.Apic;

/// <summary>
/// A processor's local APIC (an xAPIC, version 0x14) at 0xFEE00000: interrupt acceptance and priority,
/// EOI, the LVTs, the timer on virtual time, interprocessor interrupts through the <see cref="ApicBus"/>, and (on the
/// boot processor) the 8259 pair passed through LINT0 in virtual wire mode.
/// </summary>
/// <remarks>
/// <para>
/// It is the CPU's <see cref="IInterruptController"/>. An interrupt it accepts (from the I/O APIC, the
/// timer, the error LVT or a self-IPI) waits in the IRR; it is presented when its priority class
/// (vector / 16) is above the PPR's, and acknowledging moves it to the ISR. The 8259 pair sits behind
/// LINT0: while LINT0 is an unmasked ExtINT entry, the PIC's requests reach the CPU and its INTA cycle
/// goes to the PIC, bypassing IRR, ISR and priority as ExtINT does. The APIC's own requests are served
/// first. With nothing to present, an acknowledge returns the spurious vector.
/// </para>
/// <para>
/// Reset leaves it as a BIOS hands the BSP's APIC to the OS in virtual wire mode (MP spec 3.6.2.2):
/// software-enabled with spurious vector 0xFF, LINT0 ExtINT, LINT1 NMI, the other LVTs masked. A kernel
/// that never touches the APIC therefore sees the PIC exactly as without one. Software-disabling it
/// masks every LVT (so the PIC too) and keeps them masked, as the SDM says; interrupts accepted meanwhile
/// wait in the IRR. An application processor's APIC starts as at power-up instead (software-disabled, every LVT
/// masked), and so does any APIC after an INIT. The ICR sends through the <see cref="Bus"/> (fixed, lowest-priority,
/// NMI, INIT and STARTUP, with the self, all and all-but-self shorthands); without a bus only fixed
/// interrupts to itself arrive. Destinations are checked against this APIC's ID (physical) or LDR and DFR (logical).
/// </para>
/// <para>
/// The timer's bus clock runs at <see cref="BusHz"/> (default 1 GHz, which makes the xv6 and JOS setting of
/// 10,000,000 counts at divide-by-1 a 100 Hz tick) against <see cref="InstructionsPerSecond"/> of virtual
/// time, so a run replays exactly. Time moves only in <see cref="Advance"/>.
/// </para>
/// <para>
/// MMIO: a 4-byte access at the start of a 16-byte slot is a register access. Narrower or misaligned
/// reads return the addressed bytes of the register that holds them (bytes 4-15 of a slot read 0);
/// narrower or misaligned writes are ignored. Reserved slots read 0, ignore writes and latch ESR bit 7.
/// </para>
/// </remarks>
public sealed class LocalApic : IMmioDevice, IInterruptController
{
    public const uint DefaultBase = 0xFEE0_0000;
    public const uint WindowSize = 0x1000;

    /// <summary>What the version register reads: version 0x14 in bits 7-0, max LVT entry 5 in bits 23-16.</summary>
    public const uint VersionValue = 0x0005_0014;

    public const long DefaultBusHz = 1_000_000_000;

    // LVT slots by (offset - 0x320) / 16, and the bits the guest may write in each.
    private const int Timer = 0, Thermal = 1, Performance = 2, Lint0 = 3, Lint1 = 4, Error = 5;

    private static readonly uint[] LvtWritable =
    [
        0x0003_00FF, // timer: vector, mask, periodic (no TSC-deadline mode: CPUID does not offer it)
        0x0001_07FF, // thermal: vector, delivery mode, mask
        0x0001_07FF, // performance counters: vector, delivery mode, mask
        0x0001_A7FF, // LINT0: vector, delivery mode, polarity, trigger, mask
        0x0001_A7FF, // LINT1
        0x0001_00FF, // error: vector, mask
    ];

    private const uint IcrLowWritable = 0x000C_CFFF; // all but delivery status and the reserved bits
    private const uint ExtIntLint0 = (uint)ApicDeliveryMode.ExtInt << DeliveryModeShift;
    private const uint DeliveryModeMask = 7u << DeliveryModeShift;

    private readonly IInterruptController? _extInt;
    private readonly ApicVectorSet _irr = new();
    private readonly ApicVectorSet _isr = new();
    private readonly ApicVectorSet _tmr = new();
    private readonly uint[] _lvt = new uint[6];
    private readonly ApicTimer _timer;

    private uint _idRegister;
    private uint _tpr;
    private uint _ldr;
    private uint _dfr = 0xFFFF_FFFF;
    private uint _svr = SvrEnable | 0xFF;
    private uint _esr;
    private uint _pendingErrors; // errors seen since the guest last wrote the ESR
    private uint _icrLow;
    private uint _icrHigh;
    private uint _divideConfiguration;
    private bool _interruptReady; // an IRR vector beats the PPR: kept up to date so the CPU's poll is a field read
    private bool _extIntOpen;     // LINT0 is an unmasked ExtINT entry

    /// <param name="extIntController">The 8259 pair on LINT0, or null for none.</param>
    /// <param name="apicId">The APIC ID the ID register holds at reset; the MP table's processor entry must match it.</param>
    /// <param name="instructionsPerSecond">Guest instructions per virtual second, as given to the PIT.</param>
    /// <param name="busHz">The timer's input clock before the divider.</param>
    /// <param name="bootstrap">The boot processor's APIC, as the BIOS leaves it; false for an application processor's, as at power-up.</param>
    public LocalApic(IInterruptController? extIntController = null, byte apicId = 0,
        long instructionsPerSecond = Pit8254.DefaultInstructionsPerSecond, long busHz = DefaultBusHz, uint mmioBase = DefaultBase,
        bool bootstrap = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(instructionsPerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(busHz);
        _extInt = extIntController;
        _idRegister = (uint)apicId << 24;
        InstructionsPerSecond = instructionsPerSecond;
        BusHz = busHz;
        MmioBase = mmioBase;
        _timer = new ApicTimer(instructionsPerSecond, busHz);
        if (!bootstrap)
        {
            Reset();
            return;
        }

        _lvt[Timer] = LvtMasked;
        _lvt[Thermal] = LvtMasked;
        _lvt[Performance] = LvtMasked;
        _lvt[Lint0] = ExtIntLint0;
        _lvt[Lint1] = (uint)ApicDeliveryMode.Nmi << DeliveryModeShift;
        _lvt[Error] = LvtMasked;
        UpdateExtInt();
    }

    /// <summary>The APIC bus to the other processors and the I/O APIC, or null on a machine without one.</summary>
    public ApicBus? Bus { get; internal set; }

    /// <summary>
    /// The power-up state, which an INIT also leaves (SDM 10.4.7.1): IRR, ISR and TMR empty, TPR, LDR and the
    /// error status zero, flat logical destinations, the spurious vector 0xFF with the APIC software-disabled,
    /// every LVT masked and the timer stopped. The APIC ID stays.
    /// </summary>
    public void Reset()
    {
        for (int v = 0; v < 256; v++)
        {
            _irr.Remove(v);
            _isr.Remove(v);
            _tmr.Remove(v);
        }

        _tpr = 0;
        _ldr = 0;
        _dfr = 0xFFFF_FFFF;
        _svr = 0xFF;
        _esr = 0;
        _pendingErrors = 0;
        _icrLow = 0;
        _icrHigh = 0;
        Array.Fill(_lvt, LvtMasked);
        _timer.Start(0);
        _timer.SetPeriodic(false);
        _divideConfiguration = 0;
        _timer.SetDivisor(DivisorOf(0));
        UpdateExtInt();
        UpdateReady();
    }

    /// <summary>Raised on EOI of a level-triggered vector, with the vector: the EOI message the I/O APIC listens for.</summary>
    public event Action<byte>? EndOfInterruptBroadcast;

    public uint MmioBase { get; }

    public uint MmioSize => WindowSize;

    public long InstructionsPerSecond { get; }

    public long BusHz { get; }

    /// <summary>Guest instructions of virtual time so far.</summary>
    public long Instructions => _timer.Instructions;

    /// <summary>The APIC ID, bits 31-24 of the ID register.</summary>
    public byte ApicId => (byte)(_idRegister >> 24);

    public byte TaskPriority => (byte)_tpr;

    public byte ProcessorPriority => (byte)Ppr();

    public bool IsSoftwareEnabled => (_svr & SvrEnable) != 0;

    public byte SpuriousVector => (byte)_svr;

    /// <summary>True while LINT0 is an unmasked ExtINT entry, so the 8259 pair's requests reach the CPU.</summary>
    public bool PassesExtInt => _extIntOpen;

    /// <summary>Times the timer's count reached 0 with its LVT entry unmasked and raised its vector (coalesced periods count once).</summary>
    public long TimerInterrupts { get; private set; }

    /// <summary>Interprocessor interrupts the guest sent through the ICR, to itself or to CPUs that do not exist.</summary>
    public long InterruptCommandsSent { get; private set; }

    public bool HasPendingInterrupt => _interruptReady || (_extIntOpen && _extInt is { HasPendingInterrupt: true });

    public bool IsRequested(int vector) => _irr.Contains(vector);

    public bool IsInService(int vector) => _isr.Contains(vector);

    public bool IsLevelTriggered(int vector) => _tmr.Contains(vector);

    public byte AcknowledgeInterrupt()
    {
        if (_interruptReady)
        {
            int vector = _irr.Highest();
            _irr.Remove(vector);
            _isr.Add(vector);
            UpdateReady();
            return (byte)vector;
        }
        if (_extIntOpen && _extInt is { HasPendingInterrupt: true } pic)
            return pic.AcknowledgeInterrupt();
        // Nothing to present (the TPR rose, or the PIC's request went away): the spurious vector, nothing in service.
        return SpuriousVector;
    }

    /// <summary>
    /// An interrupt message for this CPU (from the I/O APIC, an LVT or an IPI): <paramref name="vector"/> is
    /// requested in the IRR, and its TMR bit records whether its EOI must be broadcast. A vector already
    /// requested stays one request. Vectors 0-15 are illegal: they latch ESR bit 6 and are dropped.
    /// </summary>
    public void AcceptInterrupt(byte vector, bool levelTriggered = false)
    {
        if (vector < 16)
        {
            LatchError(EsrReceiveIllegalVector);
            return;
        }
        _irr.Add(vector);
        if (levelTriggered)
            _tmr.Add(vector);
        else
            _tmr.Remove(vector);
        UpdateReady();
    }

    /// <summary>True when a message with this destination reaches this CPU: physical mode compares the APIC ID (0xFF is everyone), logical mode the LDR under the DFR's model.</summary>
    public bool AcceptsDestination(byte destination, bool logical)
    {
        if (!logical)
            return destination == 0xFF || destination == ApicId;
        byte logicalId = (byte)(_ldr >> 24);
        if ((_dfr >> 28) == 0xF)
            return (destination & logicalId) != 0; // flat: one bit per CPU
        // Cluster: high nibble picks the cluster (15 is all), low nibble the CPUs in it.
        int cluster = destination >> 4;
        return (cluster == 0xF || cluster == logicalId >> 4) && (destination & logicalId & 0xF) != 0;
    }

    /// <summary>Moves virtual time on by <paramref name="instructions"/>; the timer raises its vector once if its count reached 0 in that span.</summary>
    public void Advance(long instructions)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(instructions);
        if (instructions == 0 || !_timer.Advance(instructions))
            return;
        uint lvt = _lvt[Timer];
        if ((lvt & LvtMasked) != 0)
            return;
        TimerInterrupts++;
        AcceptInterrupt((byte)lvt);
    }

    /// <summary>
    /// Instructions to run until the timer next raises its vector (at least 1), so the machine can stop the CPU
    /// exactly there; <see cref="long.MaxValue"/> when it is stopped or masked.
    /// </summary>
    public long InstructionsUntilNextEvent() =>
        (_lvt[Timer] & LvtMasked) != 0 ? long.MaxValue : _timer.InstructionsUntilNextExpiry();

    public uint ReadMmio(uint offset, int size)
    {
        if (size == 4 && (offset & 0xF) == 0)
            return ReadRegister(offset);
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            uint at = offset + (uint)i;
            if ((at & 0xF) < 4)
                value |= (ReadRegister(at & ~0xFu) >> (int)(8 * (at & 3)) & 0xFF) << (8 * i);
        }
        return value;
    }

    public void WriteMmio(uint offset, int size, uint value)
    {
        if (size == 4 && (offset & 0xF) == 0)
            WriteRegister(offset, value);
    }

    private uint ReadRegister(uint offset)
    {
        switch (offset)
        {
            case Id:
                return _idRegister;
            case LocalApicRegisters.Version:
                return VersionValue;
            case LocalApicRegisters.TaskPriority:
                return _tpr;
            case LocalApicRegisters.ArbitrationPriority:
                return Apr();
            case LocalApicRegisters.ProcessorPriority:
                return Ppr();
            case EndOfInterrupt:
            case RemoteRead:
                return 0;
            case LogicalDestination:
                return _ldr;
            case DestinationFormat:
                return _dfr;
            case LocalApicRegisters.SpuriousVector:
                return _svr;
            case >= InServiceBase and < TriggerModeBase:
                return _isr.Word((int)(offset - InServiceBase) >> 4);
            case >= TriggerModeBase and < InterruptRequestBase:
                return _tmr.Word((int)(offset - TriggerModeBase) >> 4);
            case >= InterruptRequestBase and < InterruptRequestBase + 0x80:
                return _irr.Word((int)(offset - InterruptRequestBase) >> 4);
            case ErrorStatus:
                return _esr;
            case InterruptCommandLow:
                return _icrLow; // delivery status (bit 12) is 0: every send completes at once
            case InterruptCommandHigh:
                return _icrHigh;
            case >= LvtTimer and <= LvtError:
                return _lvt[(offset - LvtTimer) >> 4];
            case TimerInitialCount:
                return _timer.InitialCount;
            case TimerCurrentCount:
                return _timer.CurrentCount;
            case TimerDivideConfiguration:
                return _divideConfiguration;
            default:
                LatchError(EsrIllegalRegisterAddress);
                return 0;
        }
    }

    private void WriteRegister(uint offset, uint value)
    {
        switch (offset)
        {
            case Id:
                _idRegister = value & 0xFF00_0000;
                break;
            case LocalApicRegisters.TaskPriority:
                _tpr = value & 0xFF;
                UpdateReady();
                break;
            case EndOfInterrupt:
                Eoi();
                break;
            case LogicalDestination:
                _ldr = value & 0xFF00_0000;
                break;
            case DestinationFormat:
                _dfr = value | 0x0FFF_FFFF;
                break;
            case LocalApicRegisters.SpuriousVector:
                WriteSpuriousVector(value);
                break;
            case ErrorStatus:
                _esr = _pendingErrors;
                _pendingErrors = 0;
                break;
            case InterruptCommandLow:
                _icrLow = value & IcrLowWritable;
                SendInterruptCommand();
                break;
            case InterruptCommandHigh:
                _icrHigh = value & 0xFF00_0000;
                break;
            case >= LvtTimer and <= LvtError:
                WriteLvt((int)(offset - LvtTimer) >> 4, value);
                break;
            case TimerInitialCount:
                _timer.Start(value);
                break;
            case TimerDivideConfiguration:
                _divideConfiguration = value & 0xB;
                _timer.SetDivisor(DivisorOf(_divideConfiguration));
                break;
            case LocalApicRegisters.Version:
            case LocalApicRegisters.ArbitrationPriority:
            case LocalApicRegisters.ProcessorPriority:
            case RemoteRead:
            case >= InServiceBase and < InterruptRequestBase + 0x80:
            case TimerCurrentCount:
                break; // read-only
            default:
                LatchError(EsrIllegalRegisterAddress);
                break;
        }
    }

    /// <summary>Divide configuration bits 3, 1, 0 as a divisor: 000 is 2, each step doubles it, and 111 is 1.</summary>
    internal static int DivisorOf(uint configuration)
    {
        int code = (int)((configuration >> 1 & 4) | (configuration & 3));
        return code == 7 ? 1 : 2 << code;
    }

    private void WriteSpuriousVector(uint value)
    {
        bool wasEnabled = IsSoftwareEnabled;
        _svr = value & (0xFF | SvrEnable | SvrFocusDisable);
        if (wasEnabled && !IsSoftwareEnabled)
        {
            for (int i = 0; i < _lvt.Length; i++)
                _lvt[i] |= LvtMasked;
        }
        UpdateExtInt();
        UpdateReady();
    }

    private void WriteLvt(int index, uint value)
    {
        value &= LvtWritable[index];
        if (!IsSoftwareEnabled)
            value |= LvtMasked; // a software-disabled APIC keeps every LVT masked
        _lvt[index] = value | (_lvt[index] & LvtRemoteIrr);
        if (index == Timer)
            _timer.SetPeriodic((value & LvtTimerPeriodic) != 0);
        else if (index == Lint0)
            UpdateExtInt();
    }

    private void SendInterruptCommand()
    {
        InterruptCommandsSent++;
        var mode = (ApicDeliveryMode)((_icrLow & DeliveryModeMask) >> DeliveryModeShift);
        bool fixedVector = mode is ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority;
        if (fixedVector && (byte)_icrLow < 16)
        {
            LatchError(EsrSendIllegalVector);
            return;
        }

        if (Bus != null)
        {
            Bus.SendInterprocessor(this, _icrLow, _icrHigh);
            return;
        }

        if (!fixedVector)
            return; // NMI, SMI, INIT and STARTUP: no other CPU to start, and none of them is modelled on this one

        bool toSelf = (_icrLow >> IcrShorthandShift & 3) switch
        {
            0 => AcceptsDestination((byte)(_icrHigh >> 24), (_icrLow & IcrLogical) != 0),
            1 or 2 => true,
            _ => false,
        };
        if (toSelf)
            AcceptInterrupt((byte)_icrLow);
    }

    private void Eoi()
    {
        int vector = _isr.Highest();
        if (vector < 0)
            return;
        _isr.Remove(vector);
        UpdateReady();
        if (_tmr.Contains(vector))
            EndOfInterruptBroadcast?.Invoke((byte)vector);
    }

    private void LatchError(uint error)
    {
        uint fresh = error & ~_pendingErrors;
        _pendingErrors |= error;
        uint lvt = _lvt[Error];
        // Only a new error interrupts, so an illegal error vector cannot loop.
        if (fresh != 0 && (lvt & LvtMasked) == 0)
            AcceptInterrupt((byte)lvt);
    }

    /// <summary>PPR: the TPR, or the class of the highest vector in service when that is higher.</summary>
    private uint Ppr()
    {
        uint isrClass = (uint)Math.Max(_isr.Highest(), 0) & 0xF0;
        return (_tpr & 0xF0) >= isrClass ? _tpr : isrClass;
    }

    /// <summary>APR (SDM 10.6.2.1): the TPR when it is at least the highest request's class and above the in-service one, else the highest of the three classes.</summary>
    private uint Apr()
    {
        uint irrClass = (uint)Math.Max(_irr.Highest(), 0) & 0xF0;
        uint isrClass = (uint)Math.Max(_isr.Highest(), 0) & 0xF0;
        uint tprClass = _tpr & 0xF0;
        if (tprClass >= irrClass && tprClass > isrClass)
            return _tpr;
        return Math.Max(tprClass, Math.Max(irrClass, isrClass));
    }

    private void UpdateReady()
    {
        int vector = _irr.Highest();
        _interruptReady = IsSoftwareEnabled && vector >= 0 && ((uint)vector & 0xF0) > (Ppr() & 0xF0);
    }

    private void UpdateExtInt() => _extIntOpen = (_lvt[Lint0] & (LvtMasked | DeliveryModeMask)) == ExtIntLint0;
}

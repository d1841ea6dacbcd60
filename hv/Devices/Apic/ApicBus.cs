using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Hv.Devices.Apic;

/// <summary>
/// The APIC bus of a multiprocessor PC: carries interprocessor interrupts from one local APIC's ICR and the
/// I/O APIC's redirected interrupts to the local APICs their destination names. Fixed messages go to every
/// APIC the destination names, lowest-priority ones to one of them (the lowest processor priority, the lowest
/// APIC ID on a tie); NMI, INIT and STARTUP go to the processors themselves, through the machine.
/// </summary>
/// <remarks>Not thread-safe: the processors of a machine run one at a time.</remarks>
public sealed class ApicBus
{
    private readonly List<LocalApic> _apics = new();

    /// <summary>The local APICs on the bus, by processor index (the BSP first).</summary>
    public IReadOnlyList<LocalApic> Apics => _apics;

    /// <summary>An NMI for processor n.</summary>
    public event Action<int>? NmiRequested;

    /// <summary>An INIT (asserted) for processor n: it resets, its local APIC too, and waits for a STARTUP.</summary>
    public event Action<int>? InitRequested;

    /// <summary>A STARTUP for processor n with its vector: a processor waiting for one starts at vector * 4096.</summary>
    public event Action<int, byte>? StartupRequested;

    /// <summary>Interprocessor interrupts sent, whatever reached them.</summary>
    public long InterprocessorInterrupts { get; private set; }

    /// <summary>Put <paramref name="apic"/> on the bus as the next processor.</summary>
    public void Attach(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        _apics.Add(apic);
        apic.Bus = this;
    }

    /// <summary>The ICR of <paramref name="source"/> was written: send the interrupt its two halves describe.</summary>
    internal void SendInterprocessor(LocalApic source, uint icrLow, uint icrHigh)
    {
        InterprocessorInterrupts++;
        var mode = (ApicDeliveryMode)((icrLow >> DeliveryModeShift) & 7);
        if (mode == ApicDeliveryMode.Init && (icrLow & IcrLevelTriggered) != 0 && (icrLow & IcrAssert) == 0)
            return; // INIT level de-assert: only synchronises arbitration IDs, which are not modelled

        bool logical = (icrLow & IcrLogical) != 0;
        byte destination = (byte)(icrHigh >> 24);
        int shorthand = (int)(icrLow >> IcrShorthandShift) & 3;
        Span<bool> targets = stackalloc bool[_apics.Count];
        for (int i = 0; i < _apics.Count; i++)
        {
            LocalApic apic = _apics[i];
            targets[i] = shorthand switch
            {
                0 => apic.AcceptsDestination(destination, logical),
                1 => apic == source,
                2 => true,
                _ => apic != source,
            };
        }

        Deliver(mode, (byte)icrLow, level: false, targets);
    }

    /// <summary>An I/O APIC message: true when some local APIC took it.</summary>
    internal bool SendMessage(ApicDeliveryMode mode, byte vector, byte destination, bool logical, bool level)
    {
        Span<bool> targets = stackalloc bool[_apics.Count];
        for (int i = 0; i < _apics.Count; i++)
            targets[i] = _apics[i].AcceptsDestination(destination, logical);
        return Deliver(mode, vector, level, targets);
    }

    private bool Deliver(ApicDeliveryMode mode, byte vector, bool level, ReadOnlySpan<bool> targets)
    {
        if (mode == ApicDeliveryMode.LowestPriority)
        {
            int chosen = -1;
            for (int i = 0; i < targets.Length; i++)
            {
                if (targets[i] && (chosen < 0 || _apics[i].ProcessorPriority < _apics[chosen].ProcessorPriority))
                    chosen = i;
            }

            if (chosen < 0)
                return false;
            _apics[chosen].AcceptInterrupt(vector, level);
            return true;
        }

        bool any = false;
        for (int i = 0; i < targets.Length; i++)
        {
            if (!targets[i])
                continue;
            any = true;
            switch (mode)
            {
                case ApicDeliveryMode.Fixed:
                    _apics[i].AcceptInterrupt(vector, level);
                    break;
                case ApicDeliveryMode.Nmi:
                    NmiRequested?.Invoke(i);
                    break;
                case ApicDeliveryMode.Init:
                    InitRequested?.Invoke(i);
                    break;
                case ApicDeliveryMode.Startup:
                    StartupRequested?.Invoke(i, vector);
                    break;
                default:
                    any = false; // SMI and ExtINT: no such input is modelled
                    break;
            }
        }

        return any;
    }
}

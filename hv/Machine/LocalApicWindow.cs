using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Hv.Machine;

/// <summary>
/// The local APIC's MMIO window as the VM puts it on the bus: the APIC's timer brought to the exact virtual
/// time of the instruction that reads the current count or writes a register, and the CPU's run ended after a
/// write that can move the timer's next interrupt, so the VM finds it again (the PIT's rules, for the APIC).
/// </summary>
/// <remarks>
/// Every other read (the ID register above all, which kernels read in loops) goes straight to the APIC: between
/// the VM's slices nothing in the APIC but the current count depends on time, since a slice never runs past the
/// timer's next expiry.
/// </remarks>
internal sealed class LocalApicWindow : IMmioDevice
{
    private LocalApic _apic;
    private readonly Func<long> _now;
    private readonly Action _reprogrammed;

    /// <param name="now">The exact virtual time in instructions.</param>
    /// <param name="reprogrammed">Ends the CPU's run so the VM recomputes its slice.</param>
    public LocalApicWindow(LocalApic apic, Func<long> now, Action reprogrammed)
    {
        _apic = apic;
        _now = now;
        _reprogrammed = reprogrammed;
    }

    /// <summary>The APIC behind the window: the running processor's, since every processor sees its own at the same address.</summary>
    public LocalApic Apic
    {
        get => _apic;
        set => _apic = value;
    }

    public uint MmioBase => _apic.MmioBase;

    public uint MmioSize => _apic.MmioSize;

    /// <summary>Moves the APIC's time on to <paramref name="instructions"/>, if that is later than its own.</summary>
    public void AdvanceTo(long instructions) => AdvanceTo(_apic, instructions);

    /// <summary>Moves <paramref name="apic"/>'s time on to <paramref name="instructions"/>, if that is later than its own.</summary>
    public static void AdvanceTo(LocalApic apic, long instructions)
    {
        long delta = instructions - apic.Instructions;
        if (delta > 0)
            apic.Advance(delta);
    }

    /// <summary>
    /// A read by a processor of its own local APIC at <paramref name="physicalAddress"/>, with its own clock
    /// <paramref name="now"/>, without the window (which serves the active processor): false when the address is not
    /// in that APIC's page. Only the processor's own state is read, so its own thread may do it while others run.
    /// </summary>
    public static bool TryReadOwn(LocalApic apic, long now, uint physicalAddress, int size, out uint value)
    {
        uint offset = physicalAddress - apic.MmioBase;
        if (offset >= apic.MmioSize || offset + (uint)size > apic.MmioSize)
        {
            value = 0;
            return false;
        }

        if ((offset & ~0xFu) == TimerCurrentCount)
            AdvanceTo(apic, now);
        value = apic.ReadMmio(offset, size);
        return true;
    }

    public uint ReadMmio(uint offset, int size)
    {
        if ((offset & ~0xFu) == TimerCurrentCount)
            AdvanceTo(_now());
        return _apic.ReadMmio(offset, size);
    }

    public void WriteMmio(uint offset, int size, uint value)
    {
        AdvanceTo(_now());
        _apic.WriteMmio(offset, size, value);
        if ((offset & ~0xFu) is LvtTimer or TimerInitialCount or TimerDivideConfiguration or LocalApicRegisters.SpuriousVector)
            _reprogrammed();
    }
}

namespace MiniHv.Hv.Devices;

/// <summary>The A20 gate: whether physical address bit 20 reaches memory, as the 8042's output port and port 0x92 set it.</summary>
/// <remarks>
/// Both controls drive this one gate, and the last write wins, as on the machines QEMU models. It starts
/// enabled, as a multiboot loader leaves it. The gate only records the guest's wish: masking bit 20 is up
/// to the memory code, which can watch <see cref="Changed"/>.
/// </remarks>
public sealed class A20Gate
{
    public bool Enabled { get; private set; } = true;

    /// <summary>Raised with the new state when the guest opens or closes the gate.</summary>
    public event Action<bool>? Changed;

    public void Set(bool enabled)
    {
        if (enabled == Enabled)
            return;
        Enabled = enabled;
        Changed?.Invoke(enabled);
    }
}

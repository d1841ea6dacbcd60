namespace MiniHv.Hv.Memory;

/// <summary>
/// A machine frame number: the index of one 4 KiB frame in the <see cref="MachineMemory"/> pool.
/// Guest frame numbers stay plain <c>uint</c> (the CPU's currency); machine frames get this type so
/// the two can never be mixed up by accident.
/// </summary>
public readonly record struct Mfn(uint Value)
{
    /// <summary>The shared, all-zero, never-writable frame that backs every untouched guest frame.</summary>
    public static Mfn Zero => default;

    public bool IsZero => Value == 0;

    public override string ToString() => $"mfn 0x{Value:x}";
}

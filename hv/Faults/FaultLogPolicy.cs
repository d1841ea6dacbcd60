namespace MiniHv.Hv.Faults;

/// <summary>
/// Which faults a guest's fault log writes, kind by kind. By default every exception the guest sees is logged
/// and hidden faults, which can come by the million, are only counted.
/// </summary>
public sealed class FaultLogPolicy
{
    private readonly FaultSampling[] _byKind = new FaultSampling[FaultKinds.Count];

    /// <param name="guestFaults">The rule for exceptions delivered to the guest, double and triple faults.</param>
    /// <param name="hiddenFaults">The rule for hidden faults.</param>
    public FaultLogPolicy(FaultSampling guestFaults, FaultSampling hiddenFaults)
    {
        foreach (FaultKind kind in FaultKinds.All)
            _byKind[(int)kind] = FaultKinds.IsHidden(kind) ? hiddenFaults : guestFaults;
    }

    /// <summary>Log every guest exception; count hidden faults only.</summary>
    public static FaultLogPolicy Default => new(FaultSampling.All, FaultSampling.None);

    /// <summary>The rule for one kind.</summary>
    public FaultSampling For(FaultKind kind) => _byKind[(int)kind];

    /// <summary>Change the rule for one kind (for example log 10 copy-on-write breaks a second). Returns this policy.</summary>
    public FaultLogPolicy Set(FaultKind kind, FaultSampling sampling)
    {
        _byKind[(int)kind] = sampling;
        return this;
    }
}

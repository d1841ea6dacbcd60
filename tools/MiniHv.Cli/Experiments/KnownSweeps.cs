using MiniHv.Cli.Experiments.Sweeps;

namespace MiniHv.Cli.Experiments;

/// <summary>The experiments <c>minihv experiment merge</c> can rebuild from a results directory's manifest.</summary>
internal static class KnownSweeps
{
    /// <exception cref="FormatException">An experiment this minihv does not have, or a config it cannot read.</exception>
    public static ISweep FromManifest(SweepManifest m) => m.Experiment switch
    {
        SharedObjectSweep.Name => SharedObjectSweep.FromManifest(m),
        Overcommit.OvercommitSweep.Name => Overcommit.OvercommitSweep.FromManifest(m),
        _ => throw new FormatException($"results of experiment '{m.Experiment}', which this minihv does not have"),
    };
}

using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>
/// What the merged frames held when sharing saved the most: attributed at the end of each full scan (the
/// guests' page tables still show their user pages then, which they no longer do once programs have exited).
/// </summary>
internal sealed class PeakAttribution
{
    private readonly SharingEngine? _engine;
    private readonly IReadOnlyList<Vm> _vms;
    private long _best = -1;

    public PeakAttribution(SharingEngine? engine, IReadOnlyList<Vm> vms)
    {
        _engine = engine;
        _vms = vms;
        if (engine != null)
            engine.RoundCompleted += Sample;
    }

    /// <summary>The attribution at the scan that saved the most frames, or null without sharing.</summary>
    public IReadOnlyDictionary<FrameContent, long>? Result { get; private set; }

    private void Sample()
    {
        long saved = _engine!.Stats.PagesSharing + _engine.Stats.ZeroPages;
        if (saved <= _best)
            return;
        _best = saved;
        Result = SharedContentAttribution.Attribute(_vms, _engine);
    }
}

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
    private readonly IReadOnlyList<IReadOnlyList<MiniHv.Hv.Loader.LoadSegment>?>? _kernels;

    /// <summary>
    /// Host time between two attributions, at least, as a multiple of what the last one took: it walks every
    /// guest's page tables on the scanner's thread, 14 ms for 64 guests, which at a fixed interval was 40% of the
    /// scanner's CPU; so it keeps to about 2% of one core however many guests there are.
    /// </summary>
    public const int CostMultiple = 50;

    private readonly TimeSpan _minInterval;
    private readonly System.Diagnostics.Stopwatch _sinceLast = System.Diagnostics.Stopwatch.StartNew();
    private TimeSpan _interval;
    private long _best = -1;

    /// <param name="minInterval">
    /// In a parallel run the scanner does this work beside the guests, and full scans come many times a second:
    /// attribute at most once per this much host time, or per <see cref="CostMultiple"/> times the last
    /// attribution's own time if that is longer (the best scan within it may be missed). Zero: every better scan.
    /// </param>
    /// <param name="kernels">Where each guest's kernel lies when its image does not say (<see cref="RunPlan.Kernels"/>), or null.</param>
    public PeakAttribution(SharingEngine? engine, IReadOnlyList<Vm> vms, TimeSpan minInterval = default,
        IReadOnlyList<IReadOnlyList<MiniHv.Hv.Loader.LoadSegment>?>? kernels = null)
    {
        _engine = engine;
        _vms = vms;
        _kernels = kernels;
        _minInterval = minInterval;
        _interval = minInterval;
        if (engine != null)
            engine.RoundCompleted += Sample;
    }

    /// <summary>The attribution at the scan that saved the most frames, or null without sharing.</summary>
    public IReadOnlyDictionary<FrameContent, long>? Result { get; private set; }

    private void Sample()
    {
        long saved = _engine!.Stats.PagesSharing + _engine.Stats.ZeroPages;
        if (saved <= _best || (Result != null && _sinceLast.Elapsed < _interval))
            return;
        _best = saved;
        _sinceLast.Restart();
        Result = SharedContentAttribution.Attribute(_vms, _engine, _kernels);
        if (_minInterval > TimeSpan.Zero)
        {
            TimeSpan cost = _sinceLast.Elapsed;
            _interval = cost * CostMultiple > _minInterval ? cost * CostMultiple : _minInterval;
        }
    }
}

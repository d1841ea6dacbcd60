using System.Diagnostics;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Scheduling;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// The sharing engine's scanner threads in a parallel run: they hash frames beside the running guests at the
/// pacer's rate (shared between them), and each guest's thread does the merges they found between its quanta.
/// </summary>
public sealed class SharingScanner : IRunCompanion
{
    /// <summary>How long a scanner sleeps between bursts: the rate is owed per burst, as ksmd's sleep_millisecs.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Shared frames passed over that cost the rate as much as one hashed frame: counting a shared frame's content
    /// in the round's census is far cheaper than hashing 4 KiB, but not free.
    /// </summary>
    public const int PassesPerHash = 8;

    /// <summary>
    /// Untouched frames (never written, or of a stopped guest) passed over that cost the rate as much as one
    /// hashed frame. A batch passes over them with one vector search over their P2M entries, far cheaper than
    /// this; as ksmd counts only the pages it looks at, they should cost little. But not nothing: with nothing
    /// left to hash an unpaced scanner would spin through rounds of them, and every round hashes each frame not
    /// yet shared again (at 64 guests of 64 MiB, their 1M untouched frames cost 16,384 hashes' worth a round).
    /// </summary>
    public const int UntouchedPerHash = 64;

    private readonly SharingEngine _engine;
    private readonly Thread[] _threads;
    private readonly CancellationTokenSource _stop = new();
    private long _cpuTicks;
    private Exception? _failure;

    public SharingScanner(SharingEngine engine, ScanPacer pacer, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(pacer);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _engine = engine;
        Pacer = pacer;
        _threads = new Thread[threads];
        for (int t = 0; t < threads; t++)
            _threads[t] = new Thread(Scan) { IsBackground = true, Name = $"sharing scanner {t}" };
        engine.RoundCompleted += () => Pacer.FullScanEnded(engine.LastRoundFinds);
    }

    public ScanPacer Pacer { get; }

    public int Threads => _threads.Length;

    public void Start()
    {
        _engine.BeginConcurrent();
        foreach (Thread thread in _threads)
            thread.Start();
    }

    public void BetweenQuanta(Vm vm) => _engine.ApplyRequests(vm.Memory);

    public void Stop()
    {
        _stop.Cancel();
        foreach (Thread thread in _threads)
            thread.Join();
        _engine.EndConcurrent();
        _engine.Stats.ScannerCpuTime += TimeSpan.FromTicks(Interlocked.Read(ref _cpuTicks));
        if (_failure != null)
            throw new InvalidOperationException("the sharing scanner failed", _failure);
    }

    private void Scan()
    {
        TimeSpan cpuAtStart = ThreadCpuTime();
        try
        {
            long total = _engine.TotalFrames;
            var since = Stopwatch.StartNew();
            double owed = 0;
            while (!_stop.IsCancellationRequested)
            {
                // Each thread owes its share of the rate for the time since its last burst (at most a second's worth).
                owed = Math.Min(owed + (Pacer.Rate * since.Elapsed.TotalSeconds / _threads.Length), Pacer.Rate);
                since.Restart();
                long visited = 0;
                while (owed >= 1 && visited < total && !_stop.IsCancellationRequested)
                {
                    // A whole batch even when less is owed: untouched frames cost nearly nothing, and what a batch
                    // overdraws is a debt the next bursts pay before they scan.
                    var (hashed, seen, untouched) = _engine.ScanBatch(SharingEngine.MaxBatch);
                    owed -= hashed + ((double)(seen - hashed - untouched) / PassesPerHash) + ((double)untouched / UntouchedPerHash);
                    visited += seen;
                }

                _stop.Token.WaitHandle.WaitOne(Tick);
            }
        }
        catch (Exception e)
        {
            _failure ??= e;
        }
        finally
        {
            Interlocked.Add(ref _cpuTicks, (ThreadCpuTime() - cpuAtStart).Ticks);
        }
    }

    // The scanner's cost is its CPU time; where that cannot be read, there is no figure rather than a wall time.
    private static TimeSpan ThreadCpuTime() => MiniHv.Cpu.ThreadCpuClock.MeasuresCpuTime ? MiniHv.Cpu.ThreadCpuClock.Now() : TimeSpan.Zero;
}

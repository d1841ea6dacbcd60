using System.Collections.Concurrent;
using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Scheduling;

/// <summary>
/// Guests run on up to <see cref="Threads"/> host threads at once: with as many threads as guests, each
/// guest has a thread to itself; with fewer, the threads take guests from a queue a quantum at a time.
/// </summary>
public sealed class ParallelScheduler : IVmScheduler
{
    public const long DefaultQuantum = 1_000_000;

    public ParallelScheduler(int threads, long quantum = DefaultQuantum)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(quantum, 1);
        Threads = threads;
        Quantum = quantum;
    }

    public int Threads { get; }

    public long Quantum { get; }

    /// <summary>
    /// Work that needs every guest stopped (the sharing engine's merges), run every <c>Interval</c> of host
    /// time with all guests paused at the end of their quanta; the argument is the host time since the last call.
    /// </summary>
    public (TimeSpan Interval, Action<TimeSpan> Work)? GlobalSafepoint { get; set; }

    // Pausing every worker for the global safepoint work.
    private volatile bool _pauseRequested;
    private int _parked;
    private int _active;
    private readonly ManualResetEventSlim _resume = new(true);
    private readonly SemaphoreSlim _parkedSignal = new(0);

    public void Run(IReadOnlyList<Vm> vms, CancellationToken cancel, Action<Vm>? safepoint = null)
    {
        using CancellationTokenRegistration stop = cancel.Register(() =>
        {
            foreach (Vm vm in vms)
                vm.RequestStop();
        });

        var ready = new ConcurrentQueue<Vm>(vms);
        int remaining = vms.Count;
        Exception? failure = null;
        var threads = new Thread[Math.Min(Threads, Math.Max(1, vms.Count))];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                try
                {
                    Work(ready, ref remaining, safepoint);
                }
                catch (Exception e)
                {
                    // Vm.Run never throws for a guest's doing; a safepoint hook might. Stop everyone.
                    failure ??= e;
                    foreach (Vm vm in vms)
                        vm.RequestStop();
                }
                finally
                {
                    Interlocked.Decrement(ref _active);
                    _parkedSignal.Release();
                }
            })
            {
                IsBackground = true,
                Name = $"vcpu worker {t}",
            };
        }

        _active = threads.Length;
        foreach (Thread thread in threads)
            thread.Start();
        Coordinate(threads);
        if (failure != null)
            throw new InvalidOperationException("a scheduler worker failed", failure);
    }

    private void Work(ConcurrentQueue<Vm> ready, ref int remaining, Action<Vm>? safepoint)
    {
        while (Volatile.Read(ref remaining) > 0)
        {
            if (_pauseRequested)
                Park();
            if (!ready.TryDequeue(out Vm? vm))
            {
                Thread.Sleep(1); // every live guest is on another thread
                continue;
            }

            VmRunState state = vm.Run(Quantum);
            safepoint?.Invoke(vm);
            if (state == VmRunState.Exited)
            {
                Interlocked.Decrement(ref remaining);
                continue;
            }

            // A guest waiting for input or held by its debugger: its wait handle says when there is work.
            if (state is VmRunState.WaitingForInput or VmRunState.HeldByDebugger)
                vm.WaitForInput(TimeSpan.FromMilliseconds(ready.IsEmpty ? 20 : 0));
            ready.Enqueue(vm);
        }
    }

    private void Park()
    {
        Interlocked.Increment(ref _parked);
        _parkedSignal.Release();
        _resume.Wait();
        Interlocked.Decrement(ref _parked);
    }

    /// <summary>Waits for the workers, stopping them all for the global safepoint work at its interval.</summary>
    private void Coordinate(Thread[] threads)
    {
        if (GlobalSafepoint is not var (interval, work))
        {
            foreach (Thread thread in threads)
                thread.Join();
            return;
        }

        var since = System.Diagnostics.Stopwatch.StartNew();
        while (!threads.All(t => t.Join(0)))
        {
            threads.First(t => t.IsAlive).Join(interval);
            if (threads.All(t => !t.IsAlive))
                break;

            // Stop the world: every worker parks after its quantum; a worker that finished counts as parked.
            _resume.Reset();
            _pauseRequested = true;
            while (Volatile.Read(ref _parked) < Volatile.Read(ref _active))
                _parkedSignal.Wait(TimeSpan.FromMilliseconds(50));
            try
            {
                work(since.Elapsed);
            }
            finally
            {
                since.Restart();
                _pauseRequested = false;
                _resume.Set();
            }
        }

        foreach (Thread thread in threads)
            thread.Join();
    }
}

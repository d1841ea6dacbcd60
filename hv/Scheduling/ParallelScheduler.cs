using System.Collections.Concurrent;
using System.Diagnostics;
using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Scheduling;

/// <summary>
/// Guests run on up to <see cref="Threads"/> host threads at once: with as many threads as guests, each
/// guest has a thread to itself; with fewer, the threads take guests from a queue a quantum at a time. A
/// multiprocessor guest's application processors run on threads of the guest's own beside the thread that runs
/// its boot processor (<see cref="Vm.ProcessorThreads"/>) when the host has a core for each (<see cref="ProcessorThreadsFor"/>).
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

    /// <summary>
    /// Whether a guest with <paramref name="processors"/> processors runs them on threads of their own: only when the
    /// host has a core for each. An exclusive section (a TLB miss, a port access) waits for every other processor
    /// to reach a block boundary, and one whose thread the host has descheduled reaches it only when it runs again,
    /// so with more processors than cores every section can cost a host time slice. Then they take turns on one
    /// thread, as in a deterministic run (xv6's usertests with 4 processors on 2 cores: about 4 minutes in turns,
    /// over 10 on threads).
    /// </summary>
    public static bool ProcessorThreadsFor(int processors, int? hostCores = null)
        => processors <= (hostCores ?? Environment.ProcessorCount);

    public long Quantum { get; }

    /// <summary>
    /// Runs beside the guests (the sharing scanner): started before the first quantum, given each guest's
    /// thread between its quanta, stopped after the last guest stopped. Nothing ever stops every guest at once.
    /// </summary>
    public IRunCompanion? Companion { get; set; }

    /// <summary>Host time the workers spent inside guests' quanta, all threads together (of the last run).</summary>
    public TimeSpan GuestRunTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _runTicks));

    /// <summary>Host time the workers spent in <see cref="IRunCompanion.BetweenQuanta"/>, all threads together.</summary>
    public TimeSpan CompanionTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _companionTicks));

    private long _runTicks;
    private long _companionTicks;

    public void Run(IReadOnlyList<Vm> vms, CancellationToken cancel, Action<Vm>? safepoint = null)
    {
        using CancellationTokenRegistration stop = cancel.Register(() =>
        {
            foreach (Vm vm in vms)
                vm.RequestStop();
        });

        _runTicks = 0;
        _companionTicks = 0;
        foreach (Vm vm in vms)
            vm.ProcessorThreads = ProcessorThreadsFor(vm.Processors.Count);

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
            })
            {
                IsBackground = true,
                Name = $"vcpu worker {t}",
            };
        }

        Companion?.Start();
        try
        {
            foreach (Thread thread in threads)
                thread.Start();
            foreach (Thread thread in threads)
                thread.Join();
        }
        finally
        {
            Companion?.Stop();
        }

        if (failure != null)
            throw new InvalidOperationException("a scheduler worker failed", failure);
    }

    private void Work(ConcurrentQueue<Vm> ready, ref int remaining, Action<Vm>? safepoint)
    {
        while (Volatile.Read(ref remaining) > 0)
        {
            if (!ready.TryDequeue(out Vm? vm))
            {
                Thread.Sleep(1); // every live guest is on another thread
                continue;
            }

            long start = Stopwatch.GetTimestamp();
            VmRunState state = vm.Run(Quantum);
            long ran = Stopwatch.GetTimestamp();
            Interlocked.Add(ref _runTicks, ran - start);
            if (Companion is { } companion)
            {
                companion.BetweenQuanta(vm);
                Interlocked.Add(ref _companionTicks, Stopwatch.GetTimestamp() - ran);
            }

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
}

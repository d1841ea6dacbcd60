using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>
/// The calling thread's CPU time, for what a helper thread cost (the block compiler's compiles, the sharing
/// scanner): on a busy host their wall time also counts the time they waited for a core (the compile thread runs at
/// a lower priority, <see cref="CompileThreadNiceness"/>), which is not what the work cost. On Linux this is
/// clock_gettime(CLOCK_THREAD_CPUTIME_ID); elsewhere, or where that call fails, the wall clock
/// (<see cref="MeasuresCpuTime"/> says which).
/// </summary>
public static class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3; // Linux's CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    /// <summary>True when <see cref="Now"/> reads the thread's CPU time, false when it falls back to the wall clock.</summary>
    public static readonly bool MeasuresCpuTime = TryThreadCpuTime(out _);

    /// <summary>The calling thread's CPU time so far (or the wall clock: <see cref="MeasuresCpuTime"/>); only differences mean anything.</summary>
    public static TimeSpan Now()
    {
        if (MeasuresCpuTime && TryThreadCpuTime(out var cpu))
            return cpu;
        return Stopwatch.GetElapsedTime(0);
    }

    private static bool TryThreadCpuTime(out TimeSpan time)
    {
        time = default;
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            if (ClockGetTime(ClockThreadCpuTimeId, out var t) != 0)
                return false;
            time = TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}

using System.Globalization;

namespace MiniHv.Cli.Experiments.Overcommit;

/// <summary>
/// The CPU time the calling thread has used (user and system), from Linux's /proc/thread-self/stat: a deterministic
/// point runs on one thread, so this is its cost even when other work shares the host's cores, as wall time is not.
/// </summary>
internal static class ThreadCpuClock
{
    /// <summary>Linux's USER_HZ: the unit of utime and stime.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>Seconds of CPU the calling thread used so far, or null where /proc/thread-self does not exist.</summary>
    public static double? Seconds()
    {
        try
        {
            string stat = File.ReadAllText("/proc/thread-self/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count the fields after its ')'.
            string[] after = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long user = long.Parse(after[11], CultureInfo.InvariantCulture), system = long.Parse(after[12], CultureInfo.InvariantCulture);
            return (user + system) / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

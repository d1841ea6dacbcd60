using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The block compiler's background thread: on Linux it runs below the guests' threads, so that on a host with
/// every core busy it does not take time from the guests (.NET's own thread priority is not applied there), and
/// what it reports as compile time is its CPU time, not the time it waited for a core.
/// </summary>
[TestFixture]
public class CompileThreadTests
{
    private const string ThreadName = "minihv block compiler";

    [Test]
    public void OnLinuxTheCompileThreadRunsAtALowerPriorityThanTheGuests()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("per-thread nice values are Linux's");

        using var m = new TestMachine();
        m.Cpu.Tier = CpuTier.Jit;
        Assert.That(m.Run(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 5000); // well past the compile threshold: the loop's block is queued, which starts the thread
            a.Label(ref top);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        }), Is.EqualTo(StopReason.Halted));

        // The thread lowers itself as it starts, beside this one: wait for it a little.
        int? nice = null;
        for (int i = 0; i < 100 && nice != CompileThreadNiceness.Nice; i++)
        {
            nice = NiceOfThread(ThreadName);
            if (nice != CompileThreadNiceness.Nice)
                Thread.Sleep(50);
        }

        Assert.That(nice, Is.Not.Null, "the compile thread was started");
        Assert.That(nice, Is.EqualTo(CompileThreadNiceness.Nice));
        Assert.That(NiceIn("/proc/thread-self/stat"), Is.LessThan(CompileThreadNiceness.Nice), "the thread that ran the guest is not lowered");
    }

    [Test]
    public void OnLinuxCompileTimeIsCountedInCpuTimeSoWaitingDoesNotCount()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("the thread CPU clock is read on Linux; elsewhere compile time is wall time");

        Assert.That(ThreadCpuClock.MeasuresCpuTime, Is.True);
        TimeSpan before = ThreadCpuClock.Now();
        Thread.Sleep(300); // as a compile thread at nice 10 waits for a core on a busy host
        TimeSpan waited = ThreadCpuClock.Now() - before;
        Assert.That(waited, Is.LessThan(TimeSpan.FromMilliseconds(100)), "sleeping took no CPU time");

        before = ThreadCpuClock.Now();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        long spins = 0;
        while (ThreadCpuClock.Now() - before < TimeSpan.FromMilliseconds(50) && wall.Elapsed < TimeSpan.FromSeconds(20))
            spins++;
        Assert.That(ThreadCpuClock.Now() - before, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(50)),
            $"working {wall.Elapsed.TotalMilliseconds:F0} ms of wall time ({spins} reads) advanced the thread's CPU time");
    }

    // The nice value of this process's thread with that name, or null when there is none.
    private static int? NiceOfThread(string name)
    {
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != name[..Math.Min(name.Length, 15)])
                    continue;
                return NiceIn(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                // the thread ended while being read
            }
        }

        return null;
    }

    // Field 19 of a thread's stat file; the fields are counted after the command name's closing parenthesis.
    private static int NiceIn(string statPath)
    {
        string stat = File.ReadAllText(statPath);
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[19 - 3]);
    }
}

using System.Diagnostics;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The Linux guest of guests/linux, built by its build.sh the first time a test of a run asks for it (so that
/// `dotnet test`, which is what CI runs, builds and boots Linux). build.sh caches the kernel under
/// ~/.cache/minihv/linux, so only a machine's first run (or a change to the recipe) spends the minutes a kernel
/// takes. A failed build fails the test that asked; only a machine that cannot get the tools (build.sh's
/// status 3: no apt-get as root, or no network) skips it, with build.sh's reason.
/// </summary>
internal static class LinuxGuestBuild
{
    private const int CannotBuildHere = 3; // build.sh's status for "this machine cannot build it"
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(30);
    private static readonly Lazy<(int Status, string Log)> Build = new(RunBuildScript);

    /// <summary>A file build.sh leaves in guests/linux/build.</summary>
    public static string File(string name) => Path.Combine(TestImages.RepositoryRoot, "guests", "linux", "build", name);

    public static string BzImage => File("bzImage");

    public static string Initramfs => File("initramfs.cpio.gz");

    public static string SystemMap => File("System.map");

    /// <summary>Builds the guest once per test run (a cache hit takes seconds); ignores or fails the calling test when it cannot.</summary>
    public static void Require()
    {
        var (status, log) = Build.Value;
        if (status == CannotBuildHere)
            Assert.Ignore("no Linux guest: " + LastLine(log));
        if (status != 0)
            Assert.Fail($"sh guests/linux/build.sh failed with status {status}:\n{Tail(log)}");
    }

    private static (int, string) RunBuildScript()
    {
        var start = new ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestImages.RepositoryRoot, "guests", "linux", "build.sh"));
        using var process = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        void Append(object _, DataReceivedEventArgs e)
        {
            if (e.Data != null)
                lock (log)
                    log.AppendLine(e.Data);
        }

        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{log}build.sh did not finish in {Limit.TotalMinutes} minutes");
        }

        process.WaitForExit(); // drains the output handlers
        TestContext.Progress.WriteLine("guests/linux/build.sh:\n" + log);
        return (process.ExitCode, log.ToString());
    }

    private static string LastLine(string log) => log.TrimEnd().Split('\n')[^1];

    private static string Tail(string log)
    {
        string[] lines = log.TrimEnd().Split('\n');
        return string.Join('\n', lines[Math.Max(0, lines.Length - 40)..]);
    }
}

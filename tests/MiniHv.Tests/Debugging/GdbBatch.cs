using System.Diagnostics;

namespace MiniHv.Tests.Debugging;

/// <summary>The machine's gdb in batch mode: each command an -ex, stdout and stderr together, as a user reads them.</summary>
internal static class GdbBatch
{
    public const string Path = "/usr/bin/gdb";

    /// <summary>Ignores the test (with the reason) where there is no gdb to drive.</summary>
    public static void RequireGdb()
    {
        if (!File.Exists(Path))
            Assert.Ignore($"{Path} is not installed: the gdb end-to-end tests need it (apt-get install gdb)");
    }

    public static string Run(string elf, int port, params string[] commands)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = System.IO.Path.GetDirectoryName(elf)!,
        };
        foreach (string a in new[] { "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off", elf, "-ex", $"target remote 127.0.0.1:{port}" })
            start.ArgumentList.Add(a);
        foreach (string c in commands)
        {
            start.ArgumentList.Add("-ex");
            start.ArgumentList.Add(c);
        }

        using var gdb = Process.Start(start)!;
        gdb.StandardInput.Close();
        Task<string> stdout = gdb.StandardOutput.ReadToEndAsync();
        Task<string> stderr = gdb.StandardError.ReadToEndAsync();
        if (!gdb.WaitForExit(120_000))
        {
            gdb.Kill(entireProcessTree: true);
            Assert.Fail($"gdb did not finish: {stdout.Result}{stderr.Result}");
        }

        return stdout.Result + stderr.Result;
    }
}

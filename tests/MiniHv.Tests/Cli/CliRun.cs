using System.Diagnostics;
using System.Text;
using MiniHv.Cli;

namespace MiniHv.Tests.Cli;

/// <summary>What one minihv command line did: its exit status and what it wrote where.</summary>
internal sealed record CliResult(int Status, string Serial, string Output, string Error)
{
    public override string ToString() => $"status {Status}\nstderr:\n{Error}\nstdout:\n{Output}{Serial}";
}

/// <summary>Runs minihv in-process (Program.Invoke on memory streams) or as a real process.</summary>
internal static class CliRun
{
    public static CliResult InProcess(string[] args, byte[]? stdin = null)
    {
        var serial = new MemoryStream();
        var output = new StringWriter();
        var error = new StringWriter();
        var streams = new CliStreams(serial, stdin == null ? null : new MemoryStream(stdin), output, error);
        int status = Program.Invoke(args, streams);
        return new CliResult(status, Encoding.UTF8.GetString(serial.ToArray()), output.ToString(), error.ToString());
    }

    /// <summary>Runs the built minihv.dll with dotnet, as a user's shell would, stdin closed.</summary>
    public static CliResult AsProcess(params string[] args)
    {
        string dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "minihv.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(dll);
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"minihv {string.Join(' ', args)} did not finish in 2 minutes");
        }

        return new CliResult(process.ExitCode, "", stdout.Result, stderr.Result);
    }

    /// <summary>Writes <paramref name="bytes"/> to a fresh temporary file and returns its path.</summary>
    public static string TempFile(byte[] bytes, string name = "image.elf")
    {
        string dir = Path.Combine(Path.GetTempPath(), "minihv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Asserts that stderr holds minihv's one-line messages and no .NET stack trace.</summary>
    public static void AssertCleanError(CliResult r)
    {
        Assert.That(r.Error, Does.StartWith("minihv: "), r.ToString);
        Assert.That(r.Error, Does.Not.Contain("   at ").And.Not.Contain("Exception"), r.ToString);
    }
}

using System.Diagnostics;

namespace MiniHv.Cli.Bench;

/// <summary>
/// qemu-system-i386, where it is installed, running the embedded JOS-style guest as MiniHv runs it, for
/// benchmarks that report MiniHv's time as a ratio to QEMU's measured in the same run.
/// </summary>
internal sealed class QemuReference : IDisposable
{
    private const string Program = "qemu-system-i386";
    private readonly string _qemu;
    private readonly string _image;

    private QemuReference(string qemu, string image)
    {
        _qemu = qemu;
        _image = image;
    }

    /// <summary>QEMU on the PATH with the guest image written out for it, or null (and why) when it is not installed.</summary>
    public static QemuReference? TryCreate(out string? why) => TryCreate(EmbeddedGuests.Jos(), EmbeddedGuests.JosName, out why);

    /// <summary>A reference that boots <paramref name="image"/> (written to a temporary file named after <paramref name="name"/>).</summary>
    public static QemuReference? TryCreate(byte[] image, string name, out string? why)
    {
        string? qemu = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, Program))
            .FirstOrDefault(File.Exists);
        if (qemu == null)
        {
            why = $"{Program} is not on the PATH: no QEMU comparison (apt-get install qemu-system-x86)";
            return null;
        }

        string path = Path.Combine(Path.GetTempPath(), $"minihv-bench-{Environment.ProcessId}-{name}");
        File.WriteAllBytes(path, image);
        why = null;
        return new QemuReference(qemu, path);
    }

    /// <summary>
    /// The wall time of one whole QEMU process booting the guest with <paramref name="append"/> to its debug exit
    /// (QEMU's own start and its BIOS included), as <c>-kernel IMAGE -append TEXT -m 64M</c> with the serial
    /// port discarded.
    /// </summary>
    /// <param name="processors">QEMU's CPUs, as <c>-smp N,sockets=N</c> (QEMU 7.2's SeaBIOS lists one processor per socket in its MP table).</param>
    /// <param name="marks">
    /// When given, the serial port goes to QEMU's stdout (<c>-serial stdio</c>) and is fed to it as this process reads
    /// it, so a part of the run can be timed the same way as on MiniHv (QEMU writes each byte to the pipe as the guest sends it).
    /// </param>
    public TimeSpan Time(string append, int processors = 1, SerialMarks? marks = null)
    {
        var start = new ProcessStartInfo(_qemu)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "-kernel", _image, "-append", append, "-m", "64M", "-display", "none", "-serial", marks == null ? "null" : "stdio",
            "-monitor", "none", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        })
            start.ArgumentList.Add(arg);
        if (processors > 1)
        {
            start.ArgumentList.Add("-smp");
            start.ArgumentList.Add($"{processors},sockets={processors}");
        }

        var sw = Stopwatch.StartNew();
        using Process p = Process.Start(start) ?? throw new InvalidOperationException($"{_qemu} did not start");
        p.StandardInput.Close();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (marks == null)
        {
            p.StandardOutput.ReadToEnd();
        }
        else
        {
            Stream output = p.StandardOutput.BaseStream;
            var buffer = new byte[4096];
            int n;
            while ((n = output.Read(buffer)) > 0)
            {
                foreach (byte b in buffer.AsSpan(0, n))
                    marks.Observe(b);
            }
        }

        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"QEMU did not finish '{append}' in 5 minutes");
        }

        sw.Stop();
        if (p.ExitCode != 1) // isa-debug-exit with 0 exits QEMU with status 1
            throw new InvalidOperationException($"QEMU ended '{append}' with status {p.ExitCode}, not through the debug exit: {stderr.Result.Trim()}");
        return sw.Elapsed;
    }

    public void Dispose() => File.Delete(_image);
}

namespace MiniHv.Cli.Qemu;

/// <summary>Where QEMU's <c>-serial</c> sends the guest's COM1.</summary>
internal enum QemuSerial
{
    /// <summary>stdin and stdout, bytes as they are (<c>-serial stdio</c>).</summary>
    Stdio,

    /// <summary>stdin and stdout shared with the monitor through Ctrl-A (<c>-serial mon:stdio</c>, <c>-nographic</c>'s default).</summary>
    MonitorStdio,

    /// <summary>A file the output is written to; no input (<c>-serial file:F</c>).</summary>
    File,

    /// <summary>Output dropped, no input (<c>-serial null</c>).</summary>
    Null,
}

/// <summary>What one qemu-system-i386 command line asks for, once understood, before it becomes a <c>minihv run</c>.</summary>
/// <param name="RunArguments">The <c>minihv run</c> command line that runs the same machine.</param>
/// <param name="Serial">Where COM1 goes.</param>
/// <param name="SerialFile">With <see cref="QemuSerial.File"/>: the file.</param>
/// <param name="MonitorOnStdio">The monitor reads stdin: behind Ctrl-A c with mon:stdio, or alone (<c>-monitor stdio</c>).</param>
/// <param name="NoReboot">A reset or triple fault ends the run with status 0, as QEMU's <c>-no-reboot</c> does.</param>
/// <param name="LogPath">QEMU's <c>-D</c>: where the <c>-d</c> items go, or null for stderr.</param>
/// <param name="LogInterrupts"><c>-d int</c>: every interrupt and exception delivered, in QEMU's layout.</param>
/// <param name="LogCpuReset"><c>-d cpu_reset</c>: the CPU state at reset.</param>
/// <param name="Warnings">Lines for stderr: what the command line asks that MiniHv does differently.</param>
/// <param name="FreezeForMonitor"><c>-S</c> without gdb: the guest starts stopped, for the monitor's <c>cont</c>.</param>
internal sealed record QemuSettings(
    IReadOnlyList<string> RunArguments,
    QemuSerial Serial,
    string? SerialFile,
    bool MonitorOnStdio,
    bool NoReboot,
    string? LogPath,
    bool LogInterrupts,
    bool LogCpuReset,
    IReadOnlyList<string> Warnings,
    bool FreezeForMonitor = false);

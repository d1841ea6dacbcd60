using System.CommandLine;
using MiniHv.Cli.Commands;
using MiniHv.Cli.Running;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// <c>minihv qemu ARGS</c> (and the <c>minihv-qemu</c> launcher): qemu-system-i386's command line, so that course
/// Makefiles can set <c>QEMU=</c> to MiniHv. The options become a <c>minihv run</c> command line, parsed and
/// planned by <see cref="RunCommand"/> and run by <see cref="GuestSession"/> like any other run; this class adds
/// only what QEMU has and <c>minihv run</c> does not: where COM1 and the monitor go, the -D log, QEMU's exit
/// statuses.
/// </summary>
internal static class QemuFrontEnd
{
    public static int Run(IReadOnlyList<string> args, CliStreams streams, CancellationToken cancel)
    {
        if (!QemuCommandLine.TryParse(args, out QemuRequest request, out QemuSettings? settings, out string error))
            return streams.Fail(ExitStatus.Usage, error);
        switch (request)
        {
            case QemuRequest.Help:
                streams.Output.Write(QemuHelp.Usage);
                return ExitStatus.Ok;
            case QemuRequest.Version:
                streams.Output.Write(QemuHelp.Version);
                return ExitStatus.Ok;
            case QemuRequest.LogItems:
                streams.Output.Write(QemuHelp.LogItems);
                return ExitStatus.Ok;
        }

        foreach (string warning in settings!.Warnings)
            streams.Error.WriteLine($"minihv: {warning}");
        streams.Error.Flush();

        using var outputs = QemuOutputs.Open(settings, streams, out string openError);
        if (outputs == null)
            return streams.Fail(ExitStatus.Usage, openError);

        bool stdinIsSerial = settings.Serial is QemuSerial.Stdio or QemuSerial.MonitorStdio;
        QemuStdio? stdio = settings.Serial == QemuSerial.MonitorStdio || settings.MonitorOnStdio
            ? new QemuStdio(streams.SerialIn, streams.SerialOut, escapes: settings.Serial == QemuSerial.MonitorStdio, monitorAvailable: settings.MonitorOnStdio,
                startStopped: settings.FreezeForMonitor)
            : null;
        var runStreams = new CliStreams(outputs.Serial, stdinIsSerial ? streams.SerialIn : null, streams.Output, streams.Error)
        {
            OutputIsTerminal = streams.OutputIsTerminal,
            ErrorIsTerminal = streams.ErrorIsTerminal,
        };

        QemuInterruptLog? interruptLog = settings.LogInterrupts ? new QemuInterruptLog(outputs.Log) : null;

        void Starting(Vm vm, SharingEngine? engine, SharedConsole console)
        {
            if (settings.LogCpuReset)
            {
                foreach (VirtualCpu p in vm.Processors)
                    outputs.Log.Write($"CPU Reset (CPU {p.Index})\n{QemuCpuState.Format(p.Cpu)}");
                outputs.Log.Flush();
            }

            interruptLog?.Attach(vm);

            if (stdio != null)
                stdio.Start(vm, engine, console);
            else if (stdinIsSerial)
                StdinPump.Start(vm, streams.SerialIn);
            else
                vm.CloseInput();
        }

        RunPlan Adjust(RunPlan plan) => plan with
        {
            Starting = Starting,
        };

        var root = new RootCommand { RunCommand.Create(runStreams, (plan, log, c) => GuestSession.Run(Adjust(plan), runStreams, log, c)) };
        ParseResult parse = root.Parse(settings.RunArguments.ToArray());
        if (parse.Errors.Count > 0)
            return streams.Fail(ExitStatus.Usage, parse.Errors[0].Message);

        int status;
        using (stdio != null ? QemuTerminal.Raw() : null)
        {
            var config = new InvocationConfiguration { Output = streams.Output, Error = streams.Error, ProcessTerminationTimeout = null };
            status = parse.InvokeAsync(config, cancel).GetAwaiter().GetResult();
        }

        return QemuStatus(status, settings);
    }

    /// <summary>
    /// QEMU's status for how the run ended: 0 when it was ended from outside (a signal, Ctrl-A x, the monitor's
    /// quit), as QEMU exits; 0 for a reset or triple fault with -no-reboot, as QEMU's reset then ends it; else
    /// what <c>minihv run</c> gives (the guest's debug-exit status, MiniHv's own for its limits and errors).
    /// </summary>
    public static int QemuStatus(int runStatus, QemuSettings settings) => runStatus switch
    {
        ExitStatus.Interrupted => ExitStatus.Ok,
        ExitStatus.TripleFault when settings.NoReboot => ExitStatus.Ok,
        _ => runStatus,
    };
}

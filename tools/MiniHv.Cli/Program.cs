using System.CommandLine;
using System.Runtime.InteropServices;
using MiniHv.Cli.Commands;

namespace MiniHv.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Ctrl-C (or SIGTERM) asks the guests to stop; the run then writes its statistics and logs and exits
        // with 130. A second one ends the process at once.
        using var stop = new CancellationTokenSource();
        Action<PosixSignalContext> handler = context =>
        {
            if (stop.IsCancellationRequested)
                return;
            context.Cancel = true;
            stop.Cancel();
        };
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, handler);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, handler);
        return Invoke(args, CliStreams.ForConsole(), stop.Token);
    }

    /// <summary>Parse and run one minihv command line; the process's or a test's streams.</summary>
    internal static int Invoke(string[] args, CliStreams streams, CancellationToken cancel = default)
    {
        // QEMU's options are single-dash words System.CommandLine would misread: they go to the front end as typed.
        if (args is ["qemu", ..])
        {
            try
            {
                return Qemu.QemuFrontEnd.Run(args[1..], streams, cancel);
            }
            finally
            {
                streams.SerialOut.Flush();
                streams.Output.Flush();
            }
        }

        RootCommand root = CommandTree.Create(streams);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                streams.Error.WriteLine($"minihv: {error.Message}");
            string command = parse.CommandResult.Command == root ? "minihv" : $"minihv {parse.CommandResult.Command.Name}";
            streams.Error.WriteLine($"Run '{command} --help' for the options.");
            streams.Error.Flush();
            return ExitStatus.Usage;
        }

        var config = new InvocationConfiguration { Output = streams.Output, Error = streams.Error, ProcessTerminationTimeout = null };
        try
        {
            return parse.InvokeAsync(config, cancel).GetAwaiter().GetResult();
        }
        finally
        {
            streams.SerialOut.Flush();
            streams.Output.Flush();
        }
    }
}

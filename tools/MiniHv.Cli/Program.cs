using System.CommandLine;
using MiniHv.Cli.Commands;

namespace MiniHv.Cli;

internal static class Program
{
    private static int Main(string[] args) => Invoke(args, CliStreams.ForConsole());

    /// <summary>Parse and run one minihv command line; the process's or a test's streams.</summary>
    internal static int Invoke(string[] args, CliStreams streams)
    {
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

        var config = new InvocationConfiguration { Output = streams.Output, Error = streams.Error };
        try
        {
            return parse.InvokeAsync(config).GetAwaiter().GetResult();
        }
        finally
        {
            streams.SerialOut.Flush();
            streams.Output.Flush();
        }
    }
}

using System.CommandLine;
using MiniHv.Cli.Running;
using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Commands;

/// <summary><c>minihv</c> with no command: the embedded JOS-style guest runs a few of its programs.</summary>
internal static class DemoCommand
{
    /// <summary>The programs the demo starts, one environment each.</summary>
    public const string DemoAppend = "prog=dedupwork prog=forktree dedup.rounds=10";

    public static void Attach(RootCommand root, CliStreams streams)
    {
        var verbose = CommonOptions.Verbose();
        root.Options.Add(verbose);
        root.SetAction((parse, cancel) =>
        {
            streams.Error.WriteLine($"minihv: demo: the embedded JOS-style guest, \"{DemoAppend}\"");
            var config = new VmConfig
            {
                Name = "jos",
                Image = EmbeddedGuests.Jos(),
                CommandLine = $"{EmbeddedGuests.JosName} {DemoAppend}",
                MemoryBytes = 64L << 20,
            };
            var plan = new RunPlan([config], Summary: true);
            int status = GuestSession.Run(plan, streams, Logging.ToStderr(parse.GetValue(verbose)), cancel);

            // The guest ends by writing 0 to the debug-exit port (QEMU's status 1): for the demo, success.
            return Task.FromResult(status == 1 ? ExitStatus.Ok : status);
        });
    }
}

using System.CommandLine;

namespace MiniHv.Cli.Commands;

/// <summary>Every minihv command, under one root whose own action is the demo.</summary>
internal static class CommandTree
{
    public static RootCommand Create(CliStreams streams)
    {
        var root = new RootCommand("""
            MiniHv: an i386 hypervisor for memory-management teaching and research. It runs JOS-style
            kernels (and multiboot kernels of your own) side by side, with shadow page tables and
            content-based page sharing. Without a command it runs the demo on the embedded guest.
            """)
        {
            RunCommand.Create(streams),
            BenchCommand.Create(streams),
        };
        DemoCommand.Attach(root, streams);
        return root;
    }
}

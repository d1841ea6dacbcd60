using System.CommandLine;

namespace MiniHv.Cli.Commands;

/// <summary>Every minihv command, under one root whose own action is the demo.</summary>
internal static class CommandTree
{
    public static RootCommand Create(CliStreams streams)
    {
        var root = new RootCommand("""
            MiniHv: an i386 PC emulator and hypervisor for memory-management teaching and research. It boots
            multiboot kernels (the JOS-style guests in guests/, or your own) as qemu-system-i386 -kernel does.
            Without a command it runs the demo: the embedded JOS-style guest, then a summary.
            'minihv qemu ARGS' (or the minihv-qemu launcher) takes qemu-system-i386's options instead, for course
            Makefiles' QEMU=: see 'minihv qemu -help'.
            """)
        {
            RunCommand.Create(streams),
            BenchCommand.Create(streams),
            DisasmCommand.Create(streams),
            ReportCommand.Create(streams),
            ExperimentCommand.Create(streams),
        };
        DemoCommand.Attach(root, streams);
        return root;
    }
}

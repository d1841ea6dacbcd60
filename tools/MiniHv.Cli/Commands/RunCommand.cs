using System.CommandLine;
using MiniHv.Cli.Running;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Cli.Commands;

/// <summary><c>minihv run IMAGE</c>: boot a multiboot kernel with COM1 on stdin and stdout, as <c>qemu-system-i386 -kernel</c> does.</summary>
internal static class RunCommand
{
    public static Command Create(CliStreams streams)
    {
        var image = new Argument<string>("IMAGE")
        {
            Description = "a multiboot v1 ELF32 kernel image",
            Validators = { r => { if (r.GetValueOrDefault<string>() is ['-', ..] word) r.AddError($"unknown option '{word}'"); } },
        };
        var append = new Option<string>("--append")
        {
            Description = "kernel command line, after the image path (QEMU's -append)",
            HelpName = "TEXT",
            DefaultValueFactory = _ => "",
        };
        var memory = CommonOptions.Memory("128M");
        var timeout = CommonOptions.Timeout();
        var maxInstructions = CommonOptions.MaxInstructions();
        var verbose = CommonOptions.Verbose();

        var command = new Command("run", """
            Boot a multiboot kernel with COM1 on stdin/stdout, like qemu-system-i386 -kernel. Exit status:
            QEMU's (v << 1) | 1 after a write of v to the isa-debug-exit port 0xf4; 0 when the guest halts
            for good; 4 bad image; 6 triple fault (register dump on stderr); 8 --timeout or
            --max-instructions reached; 10 out of memory; 12 unsupported; 130 Ctrl-C.
            """)
        {
            image, append, memory, timeout, maxInstructions, verbose,
        };

        command.SetAction((parse, cancel) =>
        {
            string path = parse.GetValue(image)!;
            var log = Logging.ToStderr(parse.GetValue(verbose));
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return Task.FromResult(streams.Fail(ExitStatus.BadImage, $"cannot read kernel image '{path}': {e.Message}"));
            }

            var config = new VmConfig
            {
                Name = Path.GetFileNameWithoutExtension(path),
                Image = bytes,
                CommandLine = MultibootLoader.QemuCommandLine(path, parse.GetValue(append)!),
                MemoryBytes = parse.GetValue(memory) ?? VmConfig.DefaultMemoryBytes,
                Timeout = parse.GetValue(timeout) is double s ? TimeSpan.FromSeconds(s) : null,
                MaxInstructions = parse.GetValue(maxInstructions),
            };
            return Task.FromResult(Boot(config, streams, log, cancel));
        });
        return command;
    }

    /// <summary>Boot one guest on the console streams and report how it ended.</summary>
    /// <param name="summary">Print how the run went and what it cost on the output afterwards.</param>
    internal static int Boot(VmConfig config, CliStreams streams, Serilog.ILogger log, CancellationToken cancel, bool summary = false)
    {
        using var machine = new MachineMemory(config.MemoryBytes >> MachineMemory.FrameShift);
        Vm vm;
        try
        {
            vm = new Vm(config, machine, streams.SerialOut.WriteByte, log);
        }
        catch (InvalidImageException e)
        {
            return streams.Fail(ExitStatus.BadImage, $"{config.Name}: {e.Message}");
        }
        catch (MachineMemoryExhaustedException e)
        {
            return streams.Fail(ExitStatus.OutOfMemory, $"{config.Name}: {e.Message}");
        }

        using (vm)
        {
            VmExit exit = ConsoleSession.Run(vm, streams.SerialOut, streams.SerialIn, cancel);
            if (GuestExitStatus.IsWorthReporting(exit))
                streams.Error.WriteLine($"minihv: {vm.Name}: {exit.Message}");
            if (vm.FinalRegisterDump is string dump)
                streams.Error.Write(dump);
            streams.Error.Flush();
            if (summary)
                RunSummary.Write(streams.Output, vm, machine);
            return GuestExitStatus.For(exit);
        }
    }
}

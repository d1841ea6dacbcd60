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
            Boot a multiboot kernel. Its COM1 output goes to stdout and stdin goes to its COM1 input.
            The run ends when the guest writes to QEMU's isa-debug-exit port 0xf4 (minihv then exits with
            QEMU's status, (value << 1) | 1), halts for good (status 0), triple-faults (a register dump on
            stderr, status 6), reaches --timeout or --max-instructions (status 8), runs out of memory
            (status 10) or does something MiniHv does not model (status 12). Ctrl-C stops it (status 130).
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
    internal static int Boot(VmConfig config, CliStreams streams, Serilog.ILogger log, CancellationToken cancel)
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
            return GuestExitStatus.For(exit);
        }
    }
}

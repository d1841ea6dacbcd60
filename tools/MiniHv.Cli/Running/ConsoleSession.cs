using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Running;

/// <summary>
/// Runs one guest with its COM1 on this process's standard streams, as <c>qemu-system-i386 -serial stdio</c>
/// does: what the guest sends is written to the output, the input is fed to its receiver until it ends.
/// </summary>
internal static class ConsoleSession
{
    /// <summary>Guest instructions between two flushes of the output and two looks at the clock.</summary>
    public const long Quantum = 2_000_000;

    /// <summary>Runs <paramref name="vm"/> to its end. <paramref name="serialOutput"/> is the stream its COM1 bytes go to.</summary>
    public static VmExit Run(Vm vm, Stream serialOutput, Stream? input, CancellationToken cancel)
    {
        using CancellationTokenRegistration stop = cancel.Register(vm.RequestStop);
        StartInputPump(vm, input);
        while (true)
        {
            VmRunState state = vm.Run(Quantum);
            serialOutput.Flush();
            if (state == VmRunState.Exited)
                return vm.Exit!;
            if (state == VmRunState.WaitingForInput)
                vm.WaitForInput(TimeSpan.FromMilliseconds(100));
        }
    }

    // A background thread: a read from a terminal blocks until a line is typed, and must not keep the
    // process alive once the guest is gone.
    private static void StartInputPump(Vm vm, Stream? input)
    {
        if (input == null)
        {
            vm.CloseInput();
            return;
        }

        var thread = new Thread(() =>
        {
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
                    vm.SendInput(buffer.AsSpan(0, n));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A closed or broken stdin is the end of input.
            }

            vm.CloseInput();
        })
        {
            IsBackground = true,
            Name = $"stdin for {vm.Name}",
        };
        thread.Start();
    }
}

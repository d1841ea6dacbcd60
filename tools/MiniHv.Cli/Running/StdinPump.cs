using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Running;

/// <summary>Feeds a stream (stdin) to one guest's COM1 until it ends, then tells the guest no more input will come.</summary>
internal static class StdinPump
{
    // A background thread: a read from a terminal blocks until a line is typed, and must not keep the
    // process alive once the guests are gone.
    public static void Start(Vm vm, Stream? input)
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

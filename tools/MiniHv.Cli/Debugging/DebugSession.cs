using System.Net.Sockets;
using MiniHv.Hv.Debugging;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Debugging;

/// <summary>A run's gdb stub: attached to the chosen guest before it first runs, closed when the run ends.</summary>
internal sealed class DebugSession : IDisposable
{
    private readonly GdbStub _stub;

    private DebugSession(GdbStub stub) => _stub = stub;

    /// <summary>
    /// Attaches a debugger to the guest <paramref name="plan"/> names, listens, and says where on stderr;
    /// null (with the status to exit with) when the address cannot be had. Connections and drops go to <paramref name="log"/>.
    /// </summary>
    public static DebugSession? Start(GdbPlan plan, IReadOnlyList<Vm> vms, SharingEngine? engine, CliStreams streams, Serilog.ILogger log,
        out int failure)
    {
        failure = ExitStatus.Ok;
        Vm vm = plan.Guest == null ? vms[0] : vms.First(v => v.Name == plan.Guest);
        var debugger = new GuestDebugger(vm, plan.Freeze);
        GdbStub stub;
        try
        {
            stub = new GdbStub(debugger, plan.Endpoint, new MonitorCommands(() => engine),
                message => log.Information("{Guest}: {Message}", vm.Name, message)); // shown with -v
        }
        catch (SocketException e)
        {
            failure = streams.Fail(ExitStatus.Usage, $"--gdb: cannot listen on {plan.Endpoint}: {e.Message}");
            return null;
        }

        vm.Debugger = debugger;
        stub.Start();
        string held = plan.Freeze ? ", held before its first instruction" : "";
        streams.Error.WriteLine($"minihv: gdb: listening on {stub.Endpoint} for guest {vm.Name}{held} (gdb: target remote {stub.Endpoint})");
        streams.Error.Flush();
        return new DebugSession(stub);
    }

    public void Dispose() => _stub.Dispose();
}

using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>One guest as the status display shows it, read from another thread while the guest runs (counts may be a moment old).</summary>
internal sealed record GuestStatus(string Name, string State, long Instructions, double Mips, long GuestFaults, long HiddenFaults,
    long PrivateFrames, long ZeroFrames, long SharedFrames, string LastLine)
{
    public static GuestStatus Of(Vm vm, SerialSink sink, long instructionsBefore, TimeSpan interval)
    {
        long n = vm.Instructions;
        double mips = interval.TotalSeconds > 0 ? (n - instructionsBefore) / interval.TotalSeconds / 1e6 : 0;
        string state = vm.Exit is VmExit e ? e.Reason
            : vm.Debugger?.State == Hv.Debugging.DebugState.Stopped ? "gdb" : "running";
        return new GuestStatus(vm.Name, state, n, Math.Max(0, mips), vm.Faults.Counters.GuestTotal, vm.Faults.Counters.HiddenTotal,
            vm.Memory.PrivateFrames, vm.Memory.ZeroMappedFrames, vm.Memory.ReadOnlyFrames, sink.LastLine);
    }
}

/// <summary>All guests together: machine memory against guest memory, and the scanner's progress.</summary>
internal sealed record MachineStatus(long MachineFrames, long GuestFramesWritten, long PagesShared, long PagesSharing, long ZeroPages,
    long FullScans, long Merges, long CowBreaks)
{
    public static MachineStatus Of(MachineMemory machine, IReadOnlyList<Vm> vms, SharingEngine? engine)
    {
        long written = vms.Sum(v => v.Memory.PrivateFrames + v.Memory.ReadOnlyFrames) + (engine?.Stats.ZeroPages ?? 0);
        SharingStats? s = engine?.Stats;
        return new MachineStatus(machine.FramesInUse, written, s?.PagesShared ?? 0, s?.PagesSharing ?? 0, s?.ZeroPages ?? 0,
            s?.FullScans ?? 0, s?.Merges ?? 0, s?.CowBreaks ?? 0);
    }

    /// <summary>Guest frames written that the machine does not hold a frame for.</summary>
    public long Saved => GuestFramesWritten - MachineFrames;
}

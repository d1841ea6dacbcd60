using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Running;

/// <summary>The process exit status for a guest's end, and the line minihv prints about it.</summary>
internal static class GuestExitStatus
{
    public static int For(VmExit exit) => exit.Kind switch
    {
        VmExitKind.DebugExit => exit.DebugExitStatus ?? ExitStatus.Ok,
        VmExitKind.HaltedForever or VmExitKind.Reset => ExitStatus.Ok,
        VmExitKind.TripleFault => ExitStatus.TripleFault,
        VmExitKind.InstructionLimit or VmExitKind.TimeLimit => ExitStatus.LimitReached,
        VmExitKind.OutOfMemory => ExitStatus.OutOfMemory,
        VmExitKind.Stopped => ExitStatus.Interrupted,
        _ => ExitStatus.Unsupported,
    };

    /// <summary>True when the end deserves a line on stderr: anything but the guest's own orderly exit.</summary>
    public static bool IsWorthReporting(VmExit exit) => exit.Kind is not VmExitKind.DebugExit;
}

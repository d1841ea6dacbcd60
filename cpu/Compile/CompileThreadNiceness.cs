using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>
/// Lowers the compile thread's scheduling priority on Linux, so that on a host whose cores are all busy (more
/// guests than cores, or other work) the guests' threads run first and compiling waits. .NET's
/// <see cref="ThreadPriority"/> is not applied on Linux (the thread stays at nice 0), so this sets the
/// thread's nice value itself. Elsewhere, and if the call fails, the thread keeps its priority: compiling is
/// then only slower to yield, never wrong.
/// </summary>
internal static class CompileThreadNiceness
{
    /// <summary>
    /// The compile thread's nice value: a guest thread at nice 0 weighs about ten times as much with the
    /// scheduler, so a saturated host still compiles, slowly, rather than never.
    /// </summary>
    public const int Nice = 10;

    private const int PrioProcess = 0; // with a thread id, Linux applies it to that thread alone

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    /// <summary>Applies <see cref="Nice"/> to the calling thread; true when it took effect.</summary>
    public static bool LowerCallingThread()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return SetPriority(PrioProcess, GetTid(), Nice) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}

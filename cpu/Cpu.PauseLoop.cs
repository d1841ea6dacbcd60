namespace MiniHv.Cpu;

/// <summary>
/// Pause-loop exiting, as KVM does it with VT-x's PAUSE exits: a processor that executes PAUSE
/// <see cref="PauseLoopLimit"/> times within one call of <see cref="Run"/> is spinning on a lock another
/// processor holds, and the run stops with <see cref="StopReason.PauseLoop"/> so the machine can give its
/// time away instead of letting it spin.
/// </summary>
public sealed partial class Cpu
{
    private int _pausesThisRun;
    private bool _pauseLoopExit;

    /// <summary>PAUSEs in one run that end it; 0 (the default) never ends a run for PAUSE.</summary>
    public int PauseLoopLimit { get; set; }

    /// <summary>Runs ended because the processor spun on PAUSE.</summary>
    public long PauseLoopExits { get; private set; }

    /// <summary>PAUSE: a hint, no architectural effect; counted for pause-loop exiting.</summary>
    internal static void Pause(Cpu c, ref Insn i)
    {
        if (c.PauseLoopLimit > 0 && ++c._pausesThisRun >= c.PauseLoopLimit)
        {
            c._pauseLoopExit = true;
            c.AbortBlock = true;
        }
    }

    /// <summary>At the top of <see cref="Run"/>'s loop: true when a pause loop ends the run (and counts it).</summary>
    private bool TakePauseLoopExit()
    {
        if (!_pauseLoopExit)
            return false;
        _pauseLoopExit = false;
        _pausesThisRun = 0;
        PauseLoopExits++;
        return true;
    }
}

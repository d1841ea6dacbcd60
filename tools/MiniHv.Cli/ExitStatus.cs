namespace MiniHv.Cli;

/// <summary>
/// The statuses minihv exits with. A guest's debug-exit write of v gives QEMU's (v &lt;&lt; 1) | 1, which is
/// always odd, so MiniHv's own statuses are even and never mistaken for a guest's.
/// </summary>
internal static class ExitStatus
{
    /// <summary>The guest halted for good (HLT with interrupts off), or the command did its job.</summary>
    public const int Ok = 0;

    /// <summary>The command line is wrong: an unknown option, a bad value.</summary>
    public const int Usage = 2;

    /// <summary>The image cannot be booted: missing, unreadable, malformed, not multiboot, too big for the guest.</summary>
    public const int BadImage = 4;

    /// <summary>The guest triple-faulted (a register dump went to stderr).</summary>
    public const int TripleFault = 6;

    /// <summary>The guest reached its instruction or time limit.</summary>
    public const int LimitReached = 8;

    /// <summary>The guest needed more machine memory than it may have.</summary>
    public const int OutOfMemory = 10;

    /// <summary>The guest did something MiniHv does not model, or MiniHv failed.</summary>
    public const int Unsupported = 12;

    /// <summary>Interrupted with Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}

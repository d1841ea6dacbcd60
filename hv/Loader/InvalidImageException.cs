namespace MiniHv.Hv.Loader;

/// <summary>
/// A kernel image that cannot boot: unreadable, malformed, truncated, not multiboot, or not fitting the
/// guest. The message is one line naming what is wrong, fit to print as it is.
/// </summary>
public sealed class InvalidImageException : Exception
{
    public InvalidImageException(string message)
        : base(message)
    {
    }

    public InvalidImageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

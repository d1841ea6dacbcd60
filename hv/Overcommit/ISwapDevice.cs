namespace MiniHv.Hv.Overcommit;

/// <summary>The storage under a <see cref="SwapSpace"/>: a file, or in tests one that fails as a full disk does.</summary>
public interface ISwapDevice : IDisposable
{
    /// <summary>What to call it in messages: the file's path.</summary>
    string Name { get; }

    /// <summary>Writes <paramref name="bytes"/> at byte <paramref name="offset"/>.</summary>
    /// <exception cref="IOException">The write failed (the disk is full, the file is gone...).</exception>
    void Write(long offset, ReadOnlySpan<byte> bytes);

    /// <summary>Reads <paramref name="destination"/>'s length of bytes from <paramref name="offset"/>.</summary>
    /// <exception cref="IOException">The read failed or came back short.</exception>
    void Read(long offset, Span<byte> destination);
}

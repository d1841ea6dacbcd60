using Microsoft.Win32.SafeHandles;

namespace MiniHv.Hv.Overcommit;

/// <summary>A swap file on the host: written and read at slot offsets, deleted when disposed unless it is to be kept.</summary>
public sealed class FileSwapDevice : ISwapDevice
{
    private readonly SafeFileHandle _handle;
    private readonly bool _keep;

    /// <param name="path">The file to use (created or truncated), or null for a new temporary file.</param>
    /// <param name="keep">Leave the file in place when done (<c>--keep-swap</c>).</param>
    /// <exception cref="IOException">The file cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be created.</exception>
    public FileSwapDevice(string? path, bool keep)
    {
        Name = path ?? Path.Combine(Path.GetTempPath(), $"minihv-swap-{Environment.ProcessId}-{Guid.NewGuid():N}.swap");
        _keep = keep;
        _handle = File.OpenHandle(Name, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
    }

    public string Name { get; }

    public void Write(long offset, ReadOnlySpan<byte> bytes) => RandomAccess.Write(_handle, bytes, offset);

    public void Read(long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(_handle, destination[done..], offset + done);
            if (n <= 0)
                throw new IOException($"swap file '{Name}' ended at byte {offset + done}, inside a slot that was written");
            done += n;
        }
    }

    public void Dispose()
    {
        if (_handle.IsClosed)
            return;
        _handle.Dispose();
        if (!_keep)
        {
            try
            {
                File.Delete(Name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Nothing to do at exit but leave it: the run's results stand.
            }
        }
    }
}

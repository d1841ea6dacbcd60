using MiniHv.Hv.Devices.Ide;

namespace MiniHv.Hv.Machine;

/// <summary>A raw disk image for one of the VM's IDE drives: a file (QEMU's <c>-hda FILE</c>) or bytes in memory.</summary>
/// <remarks>
/// Without <see cref="Snapshot"/> the guest's writes go to the file and are flushed when the VM is disposed;
/// with it (QEMU's <c>-snapshot</c>) they stay in memory and the file is opened read-only and never changed.
/// </remarks>
public sealed record DiskImage
{
    private DiskImage(string? path, byte[]? bytes, bool snapshot)
    {
        Path = path;
        Bytes = bytes;
        Snapshot = snapshot;
    }

    /// <summary>The image file, or null for an image in memory.</summary>
    public string? Path { get; }

    /// <summary>The image in memory, or null for a file; without <see cref="Snapshot"/> the guest's writes change this array.</summary>
    public byte[]? Bytes { get; }

    /// <summary>Writes stay in an in-memory overlay; the image is never changed.</summary>
    public bool Snapshot { get; }

    public static DiskImage File(string path, bool snapshot = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new DiskImage(path, null, snapshot);
    }

    public static DiskImage InMemory(byte[] bytes, bool snapshot = false)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new DiskImage(null, bytes, snapshot);
    }

    /// <summary>What the image is, for messages: its path, or its size in memory.</summary>
    public override string ToString() => Path ?? $"<{Bytes!.Length} bytes in memory>";

    /// <summary>Opens the drive's backing store.</summary>
    /// <exception cref="IOException">The file cannot be opened (missing, locked, a directory).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be opened this way.</exception>
    internal IdeDisk Open() => Bytes != null ? IdeDisk.FromBytes(Bytes, Snapshot) : IdeDisk.Open(Path!, Snapshot);
}

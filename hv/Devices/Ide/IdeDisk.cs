namespace MiniHv.Hv.Devices.Ide;

/// <summary>A disk image as an IDE drive sees it: 512-byte sectors over a stream or a byte array, optionally behind a snapshot overlay.</summary>
/// <remarks>
/// An image whose length is not a multiple of 512 ends in a partial sector that reads zero-padded;
/// writes never change the image's length, so the padding part of such a write is dropped. In snapshot
/// mode (QEMU's snapshot=on) every written sector stays in an in-memory overlay that later reads see, and
/// the backing stream or array is never written. Host I/O errors do not escape: the call returns false
/// and <see cref="LastHostError"/> keeps the exception, so the drive can report an ATA error instead.
/// Used by one VM's thread only.
/// </remarks>
public sealed class IdeDisk : IDisposable
{
    public const int SectorSize = 512;

    private readonly Stream? _stream;
    private readonly byte[]? _bytes;
    private readonly bool _ownsStream;
    private readonly long _length;
    private readonly Dictionary<long, byte[]>? _overlay;

    private IdeDisk(Stream? stream, byte[]? bytes, bool snapshot, bool ownsStream)
    {
        _stream = stream;
        _bytes = bytes;
        _ownsStream = ownsStream;
        _length = stream?.Length ?? bytes!.LongLength;
        SectorCount = (_length + SectorSize - 1) / SectorSize;
        if (snapshot)
            _overlay = [];
        IsReadOnly = !snapshot && stream is { CanWrite: false };
    }

    /// <summary>A disk over <paramref name="image"/>; writes change the array unless <paramref name="snapshot"/> is set.</summary>
    public static IdeDisk FromBytes(byte[] image, bool snapshot = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new IdeDisk(null, image, snapshot, ownsStream: false);
    }

    /// <summary>A disk over a seekable <paramref name="stream"/>; a stream that cannot be written makes a read-only disk unless <paramref name="snapshot"/> is set.</summary>
    public static IdeDisk FromStream(Stream stream, bool snapshot = false, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead)
            throw new ArgumentException("a disk image stream must be readable and seekable", nameof(stream));
        return new IdeDisk(stream, null, snapshot, ownsStream: !leaveOpen);
    }

    /// <summary>Opens the image file at <paramref name="path"/>: read-only (and shared) in snapshot mode, read-write otherwise.</summary>
    public static IdeDisk Open(string path, bool snapshot = false)
    {
        FileStream file = snapshot
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)
            : new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        return new IdeDisk(file, null, snapshot, ownsStream: true);
    }

    /// <summary>Sectors on the disk, the last one possibly partial.</summary>
    public long SectorCount { get; }

    /// <summary>True when writes go to the in-memory overlay, never to the image.</summary>
    public bool IsSnapshot => _overlay is not null;

    /// <summary>True when the image cannot be written and there is no overlay: every write fails.</summary>
    public bool IsReadOnly { get; }

    /// <summary>Sectors held in the snapshot overlay.</summary>
    public int OverlaySectorCount => _overlay?.Count ?? 0;

    /// <summary>The last host I/O error a read, write or flush swallowed, or null.</summary>
    public Exception? LastHostError { get; private set; }

    /// <summary>Reads sector <paramref name="lba"/> into the first 512 bytes of <paramref name="destination"/>; false when it does not exist or the host failed.</summary>
    public bool ReadSector(long lba, Span<byte> destination)
    {
        if ((ulong)lba >= (ulong)SectorCount || destination.Length < SectorSize)
            return false;
        destination = destination[..SectorSize];
        if (_overlay is not null && _overlay.TryGetValue(lba, out byte[]? copy))
        {
            copy.CopyTo(destination);
            return true;
        }

        long offset = lba * SectorSize;
        int present = (int)Math.Min(SectorSize, _length - offset);
        destination[present..].Clear();
        if (_bytes is not null)
        {
            _bytes.AsSpan((int)offset, present).CopyTo(destination);
            return true;
        }
        try
        {
            _stream!.Position = offset;
            _stream.ReadExactly(destination[..present]);
            return true;
        }
        catch (Exception e) when (IsHostError(e))
        {
            LastHostError = e;
            return false;
        }
    }

    /// <summary>Writes the first 512 bytes of <paramref name="source"/> to sector <paramref name="lba"/>; false when it does not exist, the disk is read-only or the host failed.</summary>
    public bool WriteSector(long lba, ReadOnlySpan<byte> source)
    {
        if ((ulong)lba >= (ulong)SectorCount || source.Length < SectorSize || IsReadOnly)
            return false;
        source = source[..SectorSize];
        if (_overlay is not null)
        {
            _overlay[lba] = source.ToArray();
            return true;
        }

        long offset = lba * SectorSize;
        int present = (int)Math.Min(SectorSize, _length - offset);
        if (_bytes is not null)
        {
            source[..present].CopyTo(_bytes.AsSpan((int)offset));
            return true;
        }
        try
        {
            _stream!.Position = offset;
            _stream.Write(source[..present]);
            return true;
        }
        catch (Exception e) when (IsHostError(e))
        {
            LastHostError = e;
            return false;
        }
    }

    /// <summary>Pushes written sectors to the image's storage; a snapshot has nothing to push. False when the host failed.</summary>
    public bool Flush()
    {
        if (_stream is null || IsSnapshot || IsReadOnly)
            return true;
        try
        {
            _stream.Flush();
            return true;
        }
        catch (Exception e) when (IsHostError(e))
        {
            LastHostError = e;
            return false;
        }
    }

    public void Dispose()
    {
        if (_ownsStream)
            _stream?.Dispose();
    }

    // What a failing or vanished image file throws; anything else is a defect of ours and should surface.
    private static bool IsHostError(Exception e) =>
        e is IOException or NotSupportedException or ObjectDisposedException or UnauthorizedAccessException;
}

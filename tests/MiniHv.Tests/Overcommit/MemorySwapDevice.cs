using MiniHv.Hv.Overcommit;

namespace MiniHv.Tests.Overcommit;

/// <summary>A swap "file" in memory that can fill up: after <see cref="WritesBeforeFull"/> writes every write fails as on a full disk.</summary>
internal sealed class MemorySwapDevice : ISwapDevice
{
    private readonly Dictionary<long, byte[]> _blocks = new();
    private readonly object _lock = new();

    public long WritesBeforeFull { get; set; } = long.MaxValue;

    public long Writes { get; private set; }

    public string Name => "memory swap";

    public void Write(long offset, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            if (Writes >= WritesBeforeFull)
                throw new IOException("No space left on device");
            Writes++;
            _blocks[offset] = bytes.ToArray();
        }
    }

    public void Read(long offset, Span<byte> destination)
    {
        lock (_lock)
        {
            if (!_blocks.TryGetValue(offset, out byte[]? block))
                throw new IOException($"nothing was written at {offset}");
            block.CopyTo(destination);
        }
    }

    public void Dispose()
    {
    }
}

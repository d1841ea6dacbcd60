namespace MiniHv.Hv.Sharing;

/// <summary>
/// Frames by (sharing domain, checksum). Nearly every checksum names one frame, so each bucket holds its
/// first entry inline and only a collision allocates a list: a scan over hundreds of thousands of unique
/// frames allocates nothing per frame.
/// </summary>
internal sealed class ChecksumIndex<T>
    where T : struct, IEquatable<T>
{
    private struct Bucket
    {
        public T First;
        public List<T>? More;
    }

    private readonly Dictionary<(int Domain, ulong Checksum), Bucket> _buckets = new();

    /// <summary>Entries in the index.</summary>
    public long Count { get; private set; }

    public void Add((int Domain, ulong Checksum) key, T value)
    {
        if (_buckets.TryGetValue(key, out Bucket b))
        {
            (b.More ??= new List<T>(1)).Add(value);
            _buckets[key] = b;
        }
        else
        {
            _buckets[key] = new Bucket { First = value };
        }

        Count++;
    }

    /// <summary>The entries under <paramref name="key"/>: the first, and any others (null when there are none).</summary>
    public bool TryGet((int Domain, ulong Checksum) key, out T first, out IReadOnlyList<T>? more)
    {
        if (_buckets.TryGetValue(key, out Bucket b))
        {
            first = b.First;
            more = b.More;
            return true;
        }

        first = default;
        more = null;
        return false;
    }

    public bool Remove((int Domain, ulong Checksum) key, T value)
    {
        if (!_buckets.TryGetValue(key, out Bucket b))
            return false;
        if (b.First.Equals(value))
        {
            if (b.More is { Count: > 0 } more)
            {
                b.First = more[^1];
                more.RemoveAt(more.Count - 1);
                _buckets[key] = b;
            }
            else
            {
                _buckets.Remove(key);
            }
        }
        else if (b.More == null || !b.More.Remove(value))
        {
            return false;
        }

        Count--;
        return true;
    }

    /// <summary>Removes every entry that <paramref name="match"/> picks.</summary>
    public void RemoveAll(Func<T, bool> match)
    {
        foreach (var key in _buckets.Keys.ToList())
        {
            Bucket b = _buckets[key];
            var all = new List<T> { b.First };
            if (b.More != null)
                all.AddRange(b.More);
            foreach (T value in all.Where(match))
                Remove(key, value);
        }
    }

    public void Clear()
    {
        _buckets.Clear();
        Count = 0;
    }
}

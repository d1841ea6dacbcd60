namespace MiniHv.Hv.Sharing;

/// <summary>
/// The merge requests waiting for one guest's thread, over two plain arrays: taking them all hands over one array
/// and keeps filling the other, so doing the requests (which may queue new ones for the same guest) allocates
/// nothing. Changed under the engine's lock; <see cref="Count"/> may be read without it.
/// </summary>
internal sealed class MergeRequestQueue
{
    private MergeRequest[] _items = new MergeRequest[8];
    private MergeRequest[] _taken = new MergeRequest[8];
    private int _count;
    private int _takenCount;

    /// <summary>Requests waiting; read without the lock, so a guest with none pays nothing.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Add(MergeRequest r)
    {
        if (_count == _items.Length)
        {
            var bigger = new MergeRequest[_items.Length * 2];
            Array.Copy(_items, bigger, _count);
            _items = bigger;
        }

        _items[_count] = r;
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Every waiting request, in order, and an empty queue: the span holds until the next call.</summary>
    public ReadOnlySpan<MergeRequest> TakeAll()
    {
        Array.Clear(_taken, 0, _takenCount); // the last ones taken hold stable frames: let them go
        (_items, _taken) = (_taken, _items);
        _takenCount = _count;
        Volatile.Write(ref _count, 0);
        return new ReadOnlySpan<MergeRequest>(_taken, 0, _takenCount);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// A multimap from (int, ulong) keys to long values over one plain array, for the sharing engine's indexes:
/// (domain, checksum) to stable frame ids or to guest frames, (guest, gfn) to the frames waiting on a
/// promotion. Open addressing with linear probing; a removal shifts the entries after it back, so no probe
/// chain is ever cut and no tombstones pile up. Not generic, so ReadyToRun compiles it ahead of time (the
/// runtime's Dictionary over the engine's tuples was compiled in three tiers while the guests started).
/// </summary>
/// <remarks>
/// The entries under one key come back in the order they were added, except that removing the first of them
/// puts the last in its place: the order the engine's lookups (and so its collision counter) always saw.
/// Clearing bumps a generation number rather than writing the table, so a large table empties in O(1).
/// </remarks>
internal sealed class FrameMultimap
{
    private struct Entry
    {
        public ulong Key;
        public long Value;
        public int Tag;

        /// <summary>The table's generation when the entry was written: any other value means the slot is empty.</summary>
        public int Generation;
    }

    private const int MinCapacity = 64;

    private Entry[] _entries;
    private int _mask;
    private int _generation = 1;
    private long[] _scratch = new long[8];

    public FrameMultimap(int capacity = MinCapacity)
    {
        int size = MinCapacity;
        while (size < capacity * 2)
            size *= 2;
        _entries = new Entry[size];
        _mask = size - 1;
    }

    /// <summary>Entries in the table.</summary>
    public int Count { get; private set; }

    /// <summary>Slots in the table, for tests of growth; it grows when it would be more than half full.</summary>
    public int Capacity => _entries.Length;

    /// <summary>A guest frame as one value: the guest's index in the high half, the frame number in the low one.</summary>
    public static long FrameValue(int guest, uint gfn) => ((long)guest << 32) | gfn;

    public static (int Guest, uint Gfn) FrameOf(long value) => ((int)(value >> 32), (uint)value);

    public void Add(int tag, ulong key, long value)
    {
        if ((Count + 1) * 2 > _entries.Length)
            Grow();
        int slot = Home(tag, key);
        while (IsUsed(slot))
            slot = (slot + 1) & _mask;
        _entries[slot] = new Entry { Key = key, Value = value, Tag = tag, Generation = _generation };
        Count++;
    }

    /// <summary>Adds the entry only when <paramref name="key"/> has none yet.</summary>
    public bool TryAddFirst(int tag, ulong key, long value)
    {
        if (First(tag, key) >= 0)
            return false;
        Add(tag, key, value);
        return true;
    }

    /// <summary>The slot of the first entry under the key, or -1; with <see cref="Next"/> and <see cref="ValueAt"/>, the entries in order without allocating.</summary>
    public int First(int tag, ulong key) => Scan(Home(tag, key), tag, key);

    /// <summary>The slot of the entry under the same key after <paramref name="slot"/>, or -1.</summary>
    public int Next(int slot)
    {
        ref Entry e = ref _entries[slot];
        return Scan((slot + 1) & _mask, e.Tag, e.Key);
    }

    public long ValueAt(int slot) => _entries[slot].Value;

    public bool ContainsKey(int tag, ulong key) => First(tag, key) >= 0;

    /// <summary>The first value under the key, if there is one.</summary>
    public bool TryGetFirst(int tag, ulong key, out long value)
    {
        int slot = First(tag, key);
        value = slot >= 0 ? _entries[slot].Value : 0;
        return slot >= 0;
    }

    /// <summary>Removes one entry (key, value); if it was the key's first and the key has more, its last entry takes the first place.</summary>
    public bool Remove(int tag, ulong key, long value)
    {
        int first = First(tag, key);
        int found = -1, last = -1;
        for (int slot = first; slot >= 0; slot = Next(slot))
        {
            if (found < 0 && _entries[slot].Value == value)
                found = slot;
            last = slot;
        }

        if (found < 0)
            return false;
        if (found == first && last != first)
        {
            _entries[first].Value = _entries[last].Value;
            found = last;
        }

        RemoveAt(found);
        return true;
    }

    /// <summary>Removes every entry under the key; returns how many there were.</summary>
    public int RemoveKey(int tag, ulong key)
    {
        int removed = 0;
        for (int slot = First(tag, key); slot >= 0; slot = First(tag, key))
        {
            RemoveAt(slot);
            removed++;
        }

        return removed;
    }

    /// <summary>Removes every entry whose value <paramref name="match"/> picks, key by key as <see cref="Remove"/> would one at a time.</summary>
    public void RemoveAll(Func<long, bool> match)
    {
        // The keys first: removals shift entries back past the slots already looked at.
        var tags = new List<int>();
        var keys = new List<ulong>();
        for (int slot = 0; slot < _entries.Length; slot++)
        {
            if (IsUsed(slot) && match(_entries[slot].Value))
            {
                tags.Add(_entries[slot].Tag);
                keys.Add(_entries[slot].Key);
            }
        }

        for (int k = 0; k < keys.Count; k++)
        {
            foreach (long value in CopyValues(tags[k], keys[k]))
            {
                if (match(value))
                    Remove(tags[k], keys[k], value);
            }
        }
    }

    /// <summary>The values under the key, in order, copied aside: valid until the next call, whatever the table does meanwhile.</summary>
    public ReadOnlySpan<long> CopyValues(int tag, ulong key)
    {
        int n = 0;
        for (int slot = First(tag, key); slot >= 0; slot = Next(slot))
        {
            if (n == _scratch.Length)
            {
                var bigger = new long[n * 2];
                Array.Copy(_scratch, bigger, n);
                _scratch = bigger;
            }

            _scratch[n++] = _entries[slot].Value;
        }

        return new ReadOnlySpan<long>(_scratch, 0, n);
    }

    public void Clear()
    {
        Count = 0;
        if (++_generation == int.MaxValue)
        {
            Array.Clear(_entries);
            _generation = 1;
        }
    }

    /// <summary>
    /// Asks the processor to fetch the key's home slot into the cache ahead of a lookup. Safe from any thread while
    /// another changes the table: it reads one array reference and stays within that array, and a prefetch of a slot
    /// that moved on is only wasted.
    /// </summary>
    public unsafe void Prefetch(int tag, ulong key)
    {
        if (!Sse.IsSupported)
            return;
        Entry[] entries = Volatile.Read(ref _entries);
        Sse.Prefetch0(Unsafe.AsPointer(ref entries[HomeIn(tag, key, entries.Length - 1)]));
    }

    /// <summary>The slot where the search for the key starts, for tests that build probe runs on purpose.</summary>
    public int HomeSlot(int tag, ulong key) => Home(tag, key);

    private bool IsUsed(int slot) => _entries[slot].Generation == _generation;

    // A multiply spreads keys that are not uniform (guest frame numbers); checksums are, and lose nothing by it.
    private int Home(int tag, ulong key) => HomeIn(tag, key, _mask);

    private static int HomeIn(int tag, ulong key, int mask)
        => (int)(((key ^ ((ulong)(uint)tag << 32)) * 0x9E3779B97F4A7C15UL) >> 32) & mask;

    private int Scan(int slot, int tag, ulong key)
    {
        while (IsUsed(slot))
        {
            ref Entry e = ref _entries[slot];
            if (e.Key == key && e.Tag == tag)
                return slot;
            slot = (slot + 1) & _mask;
        }

        return -1;
    }

    /// <summary>Empties a slot and moves back each later entry of the run whose home is not after the hole, so every entry stays reachable from its home.</summary>
    private void RemoveAt(int hole)
    {
        int slot = hole;
        while (true)
        {
            slot = (slot + 1) & _mask;
            if (!IsUsed(slot))
                break;
            ref Entry e = ref _entries[slot];
            int home = Home(e.Tag, e.Key);
            if (((slot - home) & _mask) >= ((slot - hole) & _mask))
            {
                _entries[hole] = e;
                hole = slot;
            }
        }

        _entries[hole].Generation = 0;
        Count--;
    }

    private void Grow()
    {
        Entry[] old = _entries;
        int oldGeneration = _generation;
        _entries = new Entry[old.Length * 2];
        _mask = _entries.Length - 1;
        _generation = 1;
        Count = 0;

        // From an empty slot on: a run of entries never spans one, so the entries of a key that wrap around the
        // table's end are added again in their order.
        int start = 0;
        while (old[start].Generation == oldGeneration)
            start++;
        for (int i = 0; i < old.Length; i++)
        {
            ref Entry e = ref old[(start + i) & (old.Length - 1)];
            if (e.Generation == oldGeneration)
                Add(e.Tag, e.Key, e.Value);
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// A set of checksums over one plain array, to count a round's distinct contents. Open addressing with linear
/// probing from one multiply of the checksum; clearing bumps a generation number, so a
/// set refilled every full scan is not written over once per round. Not generic, so ReadyToRun compiles it.
/// </summary>
internal sealed class ChecksumSet
{
    private struct Entry
    {
        public ulong Checksum;

        /// <summary>The set's generation when the entry was written: any other value means the slot is empty.</summary>
        public int Generation;
    }

    private const int MinCapacity = 64;

    private Entry[] _entries = new Entry[MinCapacity];
    private int _generation = 1;

    /// <summary>Distinct checksums in the set.</summary>
    public int Count { get; private set; }

    /// <summary>Slots in the set, for tests of growth; it grows when it would be more than half full.</summary>
    public int Capacity => _entries.Length;

    /// <summary>Adds the checksum; false when it was there already.</summary>
    public bool Add(ulong checksum)
    {
        int mask = _entries.Length - 1;
        int slot = Home(checksum, mask);
        while (_entries[slot].Generation == _generation)
        {
            if (_entries[slot].Checksum == checksum)
                return false;
            slot = (slot + 1) & mask;
        }

        if ((Count + 1) * 2 > _entries.Length)
        {
            Grow();
            return Add(checksum);
        }

        _entries[slot] = new Entry { Checksum = checksum, Generation = _generation };
        Count++;
        return true;
    }

    public bool Contains(ulong checksum)
    {
        int mask = _entries.Length - 1;
        for (int slot = Home(checksum, mask); _entries[slot].Generation == _generation; slot = (slot + 1) & mask)
        {
            if (_entries[slot].Checksum == checksum)
                return true;
        }

        return false;
    }

    /// <summary>Fetches the checksum's home slot into the cache ahead of an <see cref="Add"/>; safe beside a thread that changes the set.</summary>
    public unsafe void Prefetch(ulong checksum)
    {
        if (!Sse.IsSupported)
            return;
        Entry[] entries = Volatile.Read(ref _entries);
        Sse.Prefetch0(Unsafe.AsPointer(ref entries[Home(checksum, entries.Length - 1)]));
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

    // XxHash3's output is uniform already; the multiply spreads a test's stand-in checksums (small numbers) too.
    private static int Home(ulong checksum, int mask) => (int)((checksum * 0x9E3779B97F4A7C15UL) >> 32) & mask;

    private void Grow()
    {
        Entry[] old = _entries;
        int oldGeneration = _generation;
        _entries = new Entry[old.Length * 2];
        _generation = 1;
        Count = 0;
        foreach (Entry e in old)
        {
            if (e.Generation == oldGeneration)
                Add(e.Checksum);
        }
    }
}

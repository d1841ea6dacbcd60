using System.Runtime.InteropServices;

namespace MiniHv.Hv.Shadow;

/// <summary>
/// Which guest frames hold page directories and page tables that shadows were built from, and who uses
/// them: a frame is the directory of some address spaces and the table behind some (space, slot) pairs.
/// Those frames are write-protected in every shadow while they are in use, so that a guest store to one
/// reaches the MMU. One frame may be both at once (the UVPT self-map of JOS-style kernels).
/// </summary>
internal sealed class GuestTableRegistry
{
    private readonly int[] _uses;
    private readonly Dictionary<uint, GuestTable> _tables = new();

    public GuestTableRegistry(uint guestFrames)
    {
        _uses = new int[guestFrames];
    }

    /// <summary>The users of one guest table frame, and how many stores it took since a walk last went through it.</summary>
    internal sealed class GuestTable
    {
        public readonly List<ShadowSpace> AsDirectory = new();
        public readonly List<(ShadowSpace Space, int Slot)> AsTable = new();
        public int WritesSinceUse;
    }

    /// <summary>True while some shadow was built from <paramref name="gfn"/>'s contents.</summary>
    public bool IsTracked(uint gfn) => gfn < (uint)_uses.Length && _uses[gfn] != 0;

    public GuestTable? Get(uint gfn) => _tables.GetValueOrDefault(gfn);

    /// <summary>Records <paramref name="space"/>'s directory; true when the frame was not tracked before.</summary>
    public bool AddDirectory(uint gfn, ShadowSpace space)
    {
        if (gfn >= (uint)_uses.Length)
            return false; // not RAM: the guest cannot write it
        Table(gfn).AsDirectory.Add(space);
        return _uses[gfn]++ == 0;
    }

    public void RemoveDirectory(uint gfn, ShadowSpace space)
    {
        if (!_tables.TryGetValue(gfn, out GuestTable? t))
            return;
        Span<ShadowSpace> users = CollectionsMarshal.AsSpan(t.AsDirectory);
        for (int i = 0; i < users.Length; i++)
        {
            if (ReferenceEquals(users[i], space))
            {
                RemoveAtBySwap(t.AsDirectory, i);
                Release(gfn);
                return;
            }
        }
    }

    /// <summary>Records that slot <paramref name="slot"/> of <paramref name="space"/> was built from table <paramref name="gfn"/>; true when newly tracked.</summary>
    public bool AddTable(uint gfn, ShadowSpace space, int slot)
    {
        if (gfn >= (uint)_uses.Length)
            return false;
        Table(gfn).AsTable.Add((space, slot));
        return _uses[gfn]++ == 0;
    }

    public void RemoveTable(uint gfn, ShadowSpace space, int slot)
    {
        if (!_tables.TryGetValue(gfn, out GuestTable? t))
            return;

        // A kernel's page tables are behind a slot of every address space (hundreds of users each), and a guest cycling
        // through more spaces than the cache holds drops one at every switch: so a plain loop over references and
        // ints, no equality comparer, and the last user moved into the gap rather than the rest shifted down.
        Span<(ShadowSpace Space, int Slot)> users = CollectionsMarshal.AsSpan(t.AsTable);
        for (int i = 0; i < users.Length; i++)
        {
            if (users[i].Slot == slot && ReferenceEquals(users[i].Space, space))
            {
                RemoveAtBySwap(t.AsTable, i);
                Release(gfn);
                return;
            }
        }
    }

    /// <summary>Remove item <paramref name="i"/> by moving the last one into its place (the users of a table have no order).</summary>
    private static void RemoveAtBySwap<T>(List<T> list, int i)
    {
        int last = list.Count - 1;
        list[i] = list[last];
        list.RemoveAt(last);
    }

    /// <summary>A walk went through <paramref name="gfn"/>: it is in use as a table, not being recycled.</summary>
    public void MarkUsed(uint gfn)
    {
        if (_tables.TryGetValue(gfn, out GuestTable? t))
            t.WritesSinceUse = 0;
    }

    private GuestTable Table(uint gfn)
    {
        if (!_tables.TryGetValue(gfn, out GuestTable? t))
            _tables[gfn] = t = new GuestTable();
        return t;
    }

    private void Release(uint gfn)
    {
        if (--_uses[gfn] == 0)
            _tables.Remove(gfn);
    }
}

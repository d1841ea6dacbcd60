namespace MiniHv.Hv.Shadow;

/// <summary>
/// Every shadow entry of one VM, in one pool, with a reverse map from each guest frame to the entries
/// that map it. An entry says: in address space <c>Space</c>, linear page <c>LinearPage</c> maps guest
/// frame <c>Gfn</c>, backed by machine frame <c>Mfn</c>, with the guest's permissions and whether writes
/// may go straight to the frame. Index 0 is never used, so 0 means "no entry" in a shadow slot. An entry
/// for a guest-physical page beyond RAM (a device window) has <see cref="NoFrame"/> as its machine frame
/// and is in no reverse map.
/// </summary>
/// <remarks>
/// The reverse map is kept per guest frame rather than per machine frame: a backing change (a zero-frame
/// break, a merge, a copy-on-write break) is always the change of one VM's gfn, raised by that VM's P2M,
/// so the gfn's list is exactly the set of this VM's entries the change makes stale. Other VMs that map
/// the same machine frame through their own gfns are told by their own P2Ms. The lists are doubly linked
/// through the pool, so adding and removing an entry is O(1).
/// </remarks>
internal sealed class ShadowEntryTable
{
    /// <summary>Entry flags.</summary>
    public const byte User = 1, Writable = 2, Dirty = 4;

    /// <summary>
    /// Writes may go straight to the machine frame: the guest PTE is dirty, the frame holds no guest page
    /// table, and the P2M lets the guest write it in place.
    /// </summary>
    public const byte Direct = 8;

    /// <summary>
    /// The entry was used since the overcommit reclaimer last harvested it (ShadowMmu.Reclaim.cs): set when it
    /// is filled and when a CPU TLB miss finds it, cleared (with the TLB entry) by the harvest.
    /// </summary>
    public const byte Accessed = 16;

    /// <summary>The guest forbids instruction fetches from the page (PAE with EFER.NXE): a fetch walks, and faults.</summary>
    public const byte NoExecute = 32;

    private const int None = 0;

    /// <summary>The machine frame of an entry for a page that is not RAM.</summary>
    public const uint NoFrame = uint.MaxValue;

    private uint[] _gfn = new uint[1024];
    private uint[] _mfn = new uint[1024];
    private byte[] _flags = new byte[1024];
    private int[] _space = new int[1024];
    private uint[] _linearPage = new uint[1024];
    private int[] _next = new int[1024];
    private int[] _prev = new int[1024];
    private readonly int[] _rmapHead;
    private int _used = 1; // entry 0 is the "no entry" marker
    private int _free = None;

    /// <param name="guestFrames">The VM's RAM size in frames: the reverse map has a list head for each.</param>
    public ShadowEntryTable(uint guestFrames)
    {
        _rmapHead = new int[guestFrames];
    }

    /// <summary>Entries in use.</summary>
    public int Count { get; private set; }

    public uint Gfn(int e) => _gfn[e];

    public uint Mfn(int e) => _mfn[e];

    public byte Flags(int e) => _flags[e];

    public int Space(int e) => _space[e];

    public uint LinearPage(int e) => _linearPage[e];

    public void SetFlags(int e, byte flags) => _flags[e] = flags;

    /// <summary>A new entry, linked into the reverse map of <paramref name="gfn"/>.</summary>
    public int Add(int space, uint linearPage, uint gfn, uint mfn, byte flags)
    {
        int e = _free;
        if (e != None)
        {
            _free = _next[e];
        }
        else
        {
            if (_used == _gfn.Length)
                Grow();
            e = _used++;
        }

        _gfn[e] = gfn;
        _mfn[e] = mfn;
        _flags[e] = flags;
        _space[e] = space;
        _linearPage[e] = linearPage;
        _prev[e] = None;
        if (gfn >= (uint)_rmapHead.Length)
        {
            _next[e] = None; // a device page: no machine frame, and no backing change can reach it
            Count++;
            return e;
        }

        int head = _rmapHead[gfn];
        _next[e] = head;
        if (head != None)
            _prev[head] = e;
        _rmapHead[gfn] = e;
        Count++;
        return e;
    }

    /// <summary>Unlinks <paramref name="e"/> from its reverse map and returns it to the pool.</summary>
    public void Remove(int e)
    {
        int prev = _prev[e], next = _next[e];
        if (prev != None)
            _next[prev] = next;
        else if (_gfn[e] < (uint)_rmapHead.Length)
            _rmapHead[_gfn[e]] = next;
        if (next != None)
            _prev[next] = prev;
        _next[e] = _free;
        _free = e;
        Count--;
    }

    /// <summary>The first entry mapping <paramref name="gfn"/>, or 0.</summary>
    public int FirstMapping(uint gfn) => _rmapHead[gfn];

    /// <summary>The entry after <paramref name="e"/> in its guest frame's reverse map, or 0.</summary>
    public int NextMapping(int e) => _next[e];

    private void Grow()
    {
        int n = _gfn.Length * 2;
        Array.Resize(ref _gfn, n);
        Array.Resize(ref _mfn, n);
        Array.Resize(ref _flags, n);
        Array.Resize(ref _space, n);
        Array.Resize(ref _linearPage, n);
        Array.Resize(ref _next, n);
        Array.Resize(ref _prev, n);
    }
}

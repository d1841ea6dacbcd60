using System.Buffers.Binary;
using MiniHv.Hv.Inspection;

namespace MiniHv.Tests.Inspection;

/// <summary>Guest-physical RAM for page-table dumps: a byte array, and a backing kind per frame (zero unless set).</summary>
internal sealed class FakePhysicalMemory
{
    private readonly byte[] _ram;
    private readonly Dictionary<uint, FrameBacking> _backing = new();

    public FakePhysicalMemory(int bytes = 4 << 20)
    {
        _ram = new byte[bytes];
    }

    /// <summary>Frames in RAM.</summary>
    public uint Frames => (uint)(_ram.Length >> 12);

    /// <summary>How many words the dump read: it must not wander through memory it need not.</summary>
    public int WordsRead { get; private set; }

    public void Write(uint gpa, uint word) => BinaryPrimitives.WriteUInt32LittleEndian(_ram.AsSpan((int)gpa, 4), word);

    /// <summary>Fill RAM from <paramref name="gpa"/> with random words.</summary>
    public void Scribble(uint gpa, int bytes, int seed) => new Random(seed).NextBytes(_ram.AsSpan((int)gpa, bytes));

    /// <summary>Entry <paramref name="index"/> of the directory or table at <paramref name="table"/>.</summary>
    public void Entry(uint table, uint index, uint value) => Write(table + (index * 4), value);

    /// <summary>Mark guest frames <paramref name="first"/>..<paramref name="last"/> as backed by <paramref name="backing"/>.</summary>
    public void Back(uint first, uint last, FrameBacking backing)
    {
        for (uint gfn = first; gfn <= last; gfn++)
            _backing[gfn] = backing;
    }

    public GuestPhysicalWordReader Reader => (uint gpa, out uint word) =>
    {
        WordsRead++;
        if ((ulong)gpa + 4 > (ulong)_ram.Length)
        {
            word = 0;
            return false;
        }

        word = BinaryPrimitives.ReadUInt32LittleEndian(_ram.AsSpan((int)gpa, 4));
        return true;
    };

    public Func<uint, FrameBacking> Backing => gfn =>
        gfn >= Frames ? FrameBacking.NotRam : _backing.GetValueOrDefault(gfn, FrameBacking.Zero);

    public string Dump(uint cr3, bool pse) => PageTableDump.Format(cr3, pse, Reader, Backing);
}

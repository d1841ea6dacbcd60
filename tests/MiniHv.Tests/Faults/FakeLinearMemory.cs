using Iced.Intel;
using MiniHv.Hv.Faults;

namespace MiniHv.Tests.Faults;

/// <summary>A guest's linear address space for fault tests: only the pages put here are mapped.</summary>
internal sealed class FakeLinearMemory
{
    private const uint PageMask = 0xFFFFF000;

    private readonly Dictionary<uint, byte[]> _pages = new();

    /// <summary>How many times the reader was called.</summary>
    public int Reads { get; private set; }

    /// <summary>Map the page holding <paramref name="linear"/> (zero-filled) if it is not mapped yet.</summary>
    public FakeLinearMemory Map(uint linear)
    {
        if (!_pages.ContainsKey(linear & PageMask))
            _pages[linear & PageMask] = new byte[4096];
        return this;
    }

    /// <summary>Store <paramref name="bytes"/> at <paramref name="linear"/>, mapping the pages they touch.</summary>
    public FakeLinearMemory Put(uint linear, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            uint a = unchecked(linear + (uint)i);
            Map(a);
            _pages[a & PageMask][a & 0xFFF] = bytes[i];
        }

        return this;
    }

    /// <summary>Store bytes at <paramref name="linear"/> but leave every page after the first one unmapped.</summary>
    public FakeLinearMemory PutOnFirstPageOnly(uint linear, ReadOnlySpan<byte> bytes)
    {
        int room = (int)(0x1000 - (linear & 0xFFF));
        return Put(linear, bytes[..Math.Min(room, bytes.Length)]);
    }

    /// <summary>A reader as the wiring's would be: the mapped bytes from the start, up to the first unmapped one.</summary>
    public GuestLinearReader Reader => (linear, destination) =>
    {
        Reads++;
        for (int i = 0; i < destination.Length; i++)
        {
            uint a = unchecked(linear + (uint)i);
            if (!_pages.TryGetValue(a & PageMask, out byte[]? page))
                return i;
            destination[i] = page[a & 0xFFF];
        }

        return destination.Length;
    };

    /// <summary>Machine code for <paramref name="body"/> assembled at <paramref name="ip"/> by Iced.</summary>
    public static byte[] Assemble(uint ip, Action<Assembler> body, int bitness = 32)
    {
        var a = new Assembler(bitness);
        body(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), ip);
        return stream.ToArray();
    }
}

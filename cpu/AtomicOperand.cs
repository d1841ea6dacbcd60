namespace MiniHv.Cpu;

/// <summary>
/// The memory operand of one locked read-modify-write, in host memory. The instruction loads it, computes, and
/// tries to store, again until the store succeeds: the operand then went from the loaded value to the stored one
/// with no other processor's store in between. A mutable struct: keep it in a local and never copy it mid-update.
/// </summary>
/// <remarks>
/// An operand inside one naturally aligned 8-byte word is updated with a compare-exchange on the aligned dword (or
/// qword) that holds it, so a byte or word operand stays atomic while other host threads change its neighbours in
/// the same word. An operand that crosses an 8-byte boundary (a split lock; on two pages, two host frames) cannot be
/// compare-exchanged as one: it is loaded and stored byte by byte, and the caller holds <see cref="Cpu.SplitLock"/>
/// over the whole update. That makes split-locked operations atomic against each other only, not against an aligned
/// locked operation that touches some of the same bytes.
/// </remarks>
internal unsafe struct AtomicOperand
{
    private readonly byte* _first;    // the operand's first byte
    private readonly byte* _second;   // a page-crossing operand's bytes on the next page, else null
    private readonly int _firstBytes; // the operand's bytes at _first
    private readonly int _size;
    private readonly byte* _word;     // the aligned dword or qword that holds an operand that is not split
    private readonly int _shift;      // the operand's bit offset in that word
    private readonly bool _wide;      // that word is a qword
    private ulong _seen;              // the word as the last Load found it, for the compare-exchange

    /// <param name="first">Host address of the operand's first byte.</param>
    /// <param name="second">Host address of the next page's first byte when the operand crosses a page, else null.</param>
    /// <param name="firstBytes">How many of the operand's bytes are at <paramref name="first"/>.</param>
    /// <param name="size">The operand's size: 1, 2, 4 or 8 bytes.</param>
    public AtomicOperand(byte* first, byte* second, int firstBytes, int size)
    {
        _first = first;
        _second = second;
        _firstBytes = firstBytes;
        _size = size;
        _seen = 0;
        int offset = (int)((nuint)first & 7);
        Split = second != null || offset + size > 8;
        if (Split)
            return;
        _wide = (offset & 3) + size > 4;
        _word = (byte*)((nuint)first & ~(nuint)(_wide ? 7 : 3));
        _shift = (int)(first - _word) * 8;
    }

    /// <summary>The operand crosses an 8-byte boundary: hold <see cref="Cpu.SplitLock"/> from Load to TryStore.</summary>
    public bool Split { get; }

    private ulong Mask => _size == 8 ? ulong.MaxValue : (1ul << (_size * 8)) - 1;

    /// <summary>The operand's value now, zero-extended.</summary>
    public ulong Load()
    {
        if (Split)
        {
            ulong value = 0;
            for (int k = 0; k < _size; k++)
                value |= (ulong)*ByteAt(k) << (8 * k);
            return value;
        }

        _seen = _wide ? Volatile.Read(ref *(ulong*)_word) : Volatile.Read(ref *(uint*)_word);
        return (_seen >> _shift) & Mask;
    }

    /// <summary>Store <paramref name="value"/> if the word still holds what the last Load found; false when another thread changed it.</summary>
    public bool TryStore(ulong value)
    {
        if (Split)
        {
            for (int k = 0; k < _size; k++)
                *ByteAt(k) = (byte)(value >> (8 * k));
            return true;
        }

        ulong inWord = Mask << _shift;
        ulong desired = (_seen & ~inWord) | ((value << _shift) & inWord);
        if (_wide)
            return Interlocked.CompareExchange(ref *(long*)_word, (long)desired, (long)_seen) == (long)_seen;
        return Interlocked.CompareExchange(ref *(uint*)_word, (uint)desired, (uint)_seen) == (uint)_seen;
    }

    private byte* ByteAt(int k) => k < _firstBytes ? _first + k : _second + (k - _firstBytes);
}

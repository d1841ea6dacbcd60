using System.Numerics;

namespace MiniHv.Hv.Devices.Apic;

/// <summary>One of the local APIC's 256-bit vector registers (IRR, ISR, TMR): bit v stands for vector v, and the guest reads it as eight 32-bit words.</summary>
internal sealed class ApicVectorSet
{
    private readonly uint[] _words = new uint[8];

    /// <summary>Word <paramref name="index"/> (0-7): vectors 32*index to 32*index+31.</summary>
    public uint Word(int index) => _words[index];

    public bool Contains(int vector) => (_words[vector >> 5] & 1u << (vector & 31)) != 0;

    public void Add(int vector) => _words[vector >> 5] |= 1u << (vector & 31);

    public void Remove(int vector) => _words[vector >> 5] &= ~(1u << (vector & 31));

    /// <summary>The highest vector in the set, which is also the highest priority, or -1 when it is empty.</summary>
    public int Highest()
    {
        for (int i = 7; i >= 0; i--)
        {
            if (_words[i] != 0)
                return i << 5 | BitOperations.Log2(_words[i]);
        }
        return -1;
    }
}

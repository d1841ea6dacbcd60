namespace MiniHv.Cpu;

/// <summary>Segment register numbers in the order the ModRM sreg field encodes them.</summary>
public enum SegReg : byte
{
    ES = 0,
    CS = 1,
    SS = 2,
    DS = 3,
    FS = 4,
    GS = 5,
}

/// <summary>A segment register: the visible selector and the descriptor cache loaded with it.</summary>
public struct SegmentCache
{
    public ushort Selector;
    public uint Base;
    public uint Limit;

    /// <summary>Descriptor bits 40..55 of the access byte and flags: type, S, DPL, P, AVL, L, D/B, G.</summary>
    public ushort Attributes;

    /// <summary>True when the register holds the null selector (accesses through it raise #GP(0)).</summary>
    public bool IsNull;

    public readonly int Dpl => (Attributes >> 5) & 3;

    public readonly bool Present => (Attributes & 0x80) != 0;

    /// <summary>True for a 32-bit (D/B=1) segment.</summary>
    public readonly bool Big => (Attributes & 0x4000) != 0;

    public readonly int Type => Attributes & 0xF;

    public readonly bool IsCode => (Attributes & 0x18) == 0x18;

    public readonly bool IsExpandDown => (Attributes & 0x1C) == 0x14;

    public readonly bool IsWritableData => (Attributes & 0x1A) == 0x12;

    public readonly bool IsReadable => !IsCode || (Attributes & 0x2) != 0;

    /// <summary>A flat segment: base 0, 4 GiB limit, expand-up; accesses through it need no checks.</summary>
    public readonly bool IsFlat => Base == 0 && Limit == 0xFFFFFFFF && !IsExpandDown && !IsNull;

    public static SegmentCache FromDescriptor(ushort selector, ulong descriptor)
    {
        uint lo = (uint)descriptor, hi = (uint)(descriptor >> 32);
        uint limit = (lo & 0xFFFF) | (hi & 0xF0000);
        if ((hi & 0x800000) != 0)
            limit = (limit << 12) | 0xFFF;
        return new SegmentCache
        {
            Selector = selector,
            Base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000),
            Limit = limit,
            Attributes = (ushort)((hi >> 8) & 0xF0FF),
        };
    }

    /// <summary>The state a multiboot loader leaves: flat 4 GiB, 32-bit, DPL 0.</summary>
    public static SegmentCache Flat(ushort selector, bool code) => new()
    {
        Selector = selector,
        Base = 0,
        Limit = 0xFFFFFFFF,
        Attributes = (ushort)(code ? 0xC09B : 0xC093),
    };
}

/// <summary>A descriptor-table register (GDTR, IDTR).</summary>
public struct TableRegister
{
    public uint Base;
    public uint Limit;
}

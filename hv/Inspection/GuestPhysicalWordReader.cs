using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Inspection;

/// <summary>
/// Reads the 32-bit little-endian word at a guest-physical address without side effects; false (and 0) when
/// it is not RAM. Never throws for any address.
/// </summary>
public delegate bool GuestPhysicalWordReader(uint gpa, out uint word);

/// <summary>The inputs of <see cref="PageTableDump"/> for a guest's own RAM.</summary>
public static class GuestMemoryInspection
{
    /// <summary>Words of <paramref name="memory"/>, read through <c>FrameForRead</c>: no frame is allocated or broken.</summary>
    public static GuestPhysicalWordReader WordReader(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        return (uint gpa, out uint word) =>
        {
            if (!memory.IsRam(gpa) || !memory.IsRam(unchecked(gpa + 3)))
            {
                word = 0;
                return false;
            }

            if (memory.P2m.IsSwapped(gpa >> 12) || memory.P2m.IsSwapped(unchecked(gpa + 3) >> 12)
                || memory.P2m.IsBallooned(gpa >> 12) || memory.P2m.IsBallooned(unchecked(gpa + 3) >> 12))
            {
                word = PeekUInt32(memory, gpa); // a swapped frame is read in its slot, a ballooned one as zeros: neither is brought back
                return true;
            }

            word = memory.ReadUInt32(gpa);
            return true;
        };
    }

    private static uint PeekUInt32(GuestPhysicalMemory memory, uint gpa)
    {
        Span<byte> frame = stackalloc byte[MachineMemory.FrameSize];
        uint word = 0;
        for (int i = 0; i < 4; i++)
        {
            uint at = unchecked(gpa + (uint)i);
            memory.PeekFrame(at >> 12, frame);
            word |= (uint)frame[(int)(at & 0xFFF)] << (8 * i);
        }

        return word;
    }

    /// <summary>
    /// What backs each guest frame of <paramref name="memory"/>, from its P2M: zero-mapped, writable in place
    /// (private), read-only and not zero (shared), or beyond RAM. Call it while the guest is stopped.
    /// </summary>
    public static Func<uint, FrameBacking> Backing(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        return gfn =>
        {
            P2m p2m = memory.P2m;
            if (gfn >= p2m.FrameCount)
                return FrameBacking.NotRam;
            if (p2m.IsZeroMapped(gfn))
                return FrameBacking.Zero;
            if (p2m.IsSwapped(gfn))
                return FrameBacking.Swapped;
            if (p2m.IsBallooned(gfn))
                return FrameBacking.Ballooned;
            return p2m.IsWritable(gfn) ? FrameBacking.Private : FrameBacking.Shared;
        };
    }
}

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

            word = memory.ReadUInt32(gpa);
            return true;
        };
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
            return p2m.IsWritable(gfn) ? FrameBacking.Private : FrameBacking.Shared;
        };
    }
}

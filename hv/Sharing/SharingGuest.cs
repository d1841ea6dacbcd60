using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Sharing;

/// <summary>What the sharing engine keeps about one guest: per guest frame, its last checksum and whether the engine merged it.</summary>
internal sealed class SharingGuest
{
    /// <summary>
    /// Flag bits: a checksum was recorded; on a stable frame; on the zero frame; a merge request for the
    /// frame waits for the guest's thread (the scanner passes such frames over).
    /// </summary>
    public const byte HasChecksum = 1, OnStable = 2, OnZero = 4, Queued = 8;

    public SharingGuest(GuestPhysicalMemory memory, string name, int index, int domain, Func<bool> isRunning, Func<long> instructions)
    {
        Memory = memory;
        Name = name;
        IsRunning = isRunning;
        Instructions = instructions;
        Index = index;
        Domain = domain;
        Frames = memory.FrameCount;
        Checksum = new ulong[Frames];
        Flags = new byte[Frames];
        Stable = new int[Frames];
        Array.Fill(Stable, -1);
    }

    public GuestPhysicalMemory Memory { get; }

    public string Name { get; }

    /// <summary>False once the guest has stopped: its frames are no longer scanned.</summary>
    public Func<bool> IsRunning { get; }

    /// <summary>The guest's instruction count, for samples.</summary>
    public Func<long> Instructions { get; }

    /// <summary>Position among the engine's guests, in the order they were added.</summary>
    public int Index { get; }

    /// <summary>Frames may be merged only with frames of the same domain (this guest, its salt group, or everyone).</summary>
    public int Domain { get; }

    public uint Frames { get; }

    /// <summary>
    /// The checksum each frame had when last scanned (valid with <see cref="HasChecksum"/>); for a frame on a stable
    /// frame (<see cref="Stable"/> set), that frame's checksum.
    /// </summary>
    public readonly ulong[] Checksum;

    public readonly byte[] Flags;

    /// <summary>The stable frame each guest frame was merged into, or -1.</summary>
    public readonly int[] Stable;

    /// <summary>Merges found by a scanner thread that wait for this guest's thread (under the engine's lock).</summary>
    public readonly MergeRequestQueue Requests = new();

    /// <summary>Quanta in a row this guest's thread found the engine's lock taken and put its requests off (its thread only).</summary>
    public int DeferredApplies;

    /// <summary>Guest frames on a stable frame now.</summary>
    public long FramesOnStable { get; set; }

    /// <summary>Guest frames the engine mapped to the zero frame, still there.</summary>
    public long ZeroPages { get; set; }

    /// <summary>Writes that broke one of this guest's frames away from a stable or zero frame the engine had put it on.</summary>
    public long Breaks { get; set; }

    /// <summary>True once the guest has stopped or been torn down: it is no longer scanned.</summary>
    public bool Retired { get; set; }

    /// <summary>Bytes of metadata the engine keeps for this guest.</summary>
    public long MetadataBytes => Frames * (sizeof(ulong) + sizeof(byte) + sizeof(int));
}

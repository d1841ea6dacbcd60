using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Sharing;

/// <summary>A machine frame the engine made read-only and shared: its content's checksum, its domain and how many guest frames map it.</summary>
internal sealed class StableFrame
{
    public StableFrame(int id, Mfn mfn, ulong checksum, int domain)
    {
        Id = id;
        Mfn = mfn;
        Checksum = checksum;
        Domain = domain;
    }

    public int Id { get; }

    public Mfn Mfn { get; }

    public ulong Checksum { get; }

    public int Domain { get; }

    /// <summary>Guest frames mapped to it; it leaves the index when the last one breaks away.</summary>
    public int Sharers { get; set; }
}

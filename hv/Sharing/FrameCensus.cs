using System.IO.Hashing;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// A count, at one moment, of what guests hold and the least they could hold: every guest frame that was
/// ever written (private, shared, or put back on the zero frame by the engine) is in use, and the distinct
/// non-zero contents among them are the fewest machine frames that could back them all. The saving any
/// sharing scheme could reach is the difference; <see cref="Efficiency"/> is how much of it was reached.
/// </summary>
public readonly record struct FrameCensus(long GuestFramesInUse, long DistinctContents, long MachineFramesInUse)
{
    /// <summary>Frames that could be saved at best.</summary>
    public long PossibleSaving => GuestFramesInUse - DistinctContents;

    /// <summary>Frames saved now.</summary>
    public long AchievedSaving => GuestFramesInUse - MachineFramesInUse;

    /// <summary>Achieved over possible saving (1 when nothing could be saved).</summary>
    public double Efficiency => PossibleSaving <= 0 ? 1 : (double)AchievedSaving / PossibleSaving;

    /// <summary>
    /// Counts the guests' frames now. Contents are told apart by a 128-bit hash (no byte comparison: this is a
    /// statistic, and a collision of XxHash128 would be a curiosity). The guests must not run meanwhile.
    /// </summary>
    /// <param name="engineZeroPages">Frames the sharing engine mapped back to the zero frame (written once, so in use).</param>
    public static unsafe FrameCensus Take(IEnumerable<GuestPhysicalMemory> guests, MachineMemory machine, long engineZeroPages = 0)
    {
        var contents = new HashSet<UInt128>();
        var swapped = new byte[MachineMemory.FrameSize];
        long inUse = engineZeroPages;
        foreach (GuestPhysicalMemory g in guests)
        {
            for (uint gfn = 0; gfn < g.FrameCount; gfn++)
            {
                if (g.P2m.IsZeroMapped(gfn) || g.P2m.IsBallooned(gfn))
                    continue;
                inUse++;
                ReadOnlySpan<byte> bytes;
                if (g.P2m.IsSwapped(gfn))
                {
                    g.PeekFrame(gfn, swapped); // in swap: in use by the guest, though on no machine frame
                    bytes = swapped;
                }
                else
                {
                    bytes = new ReadOnlySpan<byte>(machine.FrameAddress(g.P2m.GetMfn(gfn)), MachineMemory.FrameSize);
                }
                if (bytes.IndexOfAnyExcept((byte)0) >= 0)
                    contents.Add(XxHash128.HashToUInt128(bytes));
            }
        }

        return new FrameCensus(inUse, contents.Count, machine.FramesInUse);
    }
}

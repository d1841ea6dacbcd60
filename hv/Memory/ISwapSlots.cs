namespace MiniHv.Hv.Memory;

/// <summary>
/// Where a guest's swapped-out frames wait (hv/Overcommit's swap space): what <see cref="GuestPhysicalMemory"/>
/// needs to bring one back when the guest touches it.
/// </summary>
public interface ISwapSlots
{
    /// <summary>Reads the 4 KiB frame in <paramref name="slot"/> into <paramref name="destination"/> (counted by <see cref="CountSwapIn"/> when it was one).</summary>
    /// <exception cref="IOException">The swap file cannot be read.</exception>
    void Read(uint slot, Span<byte> destination);

    /// <summary>The slot's contents are back in memory (or no longer wanted): it may be written again.</summary>
    void Free(uint slot);

    /// <summary>Counts one swap-in (one read of the swap file) that took <paramref name="ticks"/> Stopwatch ticks, for the statistics.</summary>
    void CountSwapIn(long ticks, bool toZeroFrame);
}

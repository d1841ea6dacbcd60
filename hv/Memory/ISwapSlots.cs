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

    /// <summary>One gfn that held the slot no longer does (it is back in memory, or its guest is gone); the last frees the slot.</summary>
    void Free(uint slot);

    /// <summary>True while more than one gfn (of one guest or several) holds the slot: a shared frame swapped out once for all.</summary>
    bool IsShared(uint slot);

    /// <summary>
    /// A machine frame known to hold the slot's contents, read-only, as long as it is still that allocation
    /// (<see cref="MachineMemory.TryAddRef"/>): a sharer not yet swapped out, or one that already read it back.
    /// </summary>
    bool TryGetResident(uint slot, out Mfn mfn, out uint generation);

    /// <summary>Notes that <paramref name="mfn"/> (allocation <paramref name="generation"/>) now holds the slot's contents, read-only.</summary>
    void SetResident(uint slot, Mfn mfn, uint generation);

    /// <summary>Counts one swap-in (one read of the swap file) that took <paramref name="ticks"/> Stopwatch ticks, for the statistics.</summary>
    /// <param name="read">False when the contents were found resident (a sharer's frame) and not read from the file.</param>
    void CountSwapIn(long ticks, bool toZeroFrame, bool read = true);
}

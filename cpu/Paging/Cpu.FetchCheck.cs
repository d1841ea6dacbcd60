namespace MiniHv.Cpu;

/// <summary>
/// Instruction fetches under EFER.NXE. The TLB keeps one read entry per page for data reads and fetches alike, so
/// an execute-disable page would be fetched from through it: while NXE is on, every block lookup first asks the
/// MMU for a fetch translation of its page (which faults with the I/D bit, whether the page is execute-disable or
/// absent). The answer is remembered in a small cache stamped with the translation epoch, which moves whenever
/// any translation may have changed (a flush, INVLPG, a CR3 or CPL change), so it is never older than the TLB.
/// With NXE off, which includes every two-level guest, the only cost is one flag test per block lookup.
/// </summary>
public sealed unsafe partial class Cpu
{
    private const int FetchCheckEntries = 64;

    // The linear pages found fetchable, and the epoch each was found in.
    private readonly uint[] _fetchablePage = new uint[FetchCheckEntries];
    private readonly long[] _fetchableEpoch = new long[FetchCheckEntries];

    /// <summary>True while instruction fetches must be checked against execute-disable (PAE paging with EFER.NXE).</summary>
    internal bool FetchChecks;

    private void UpdateFetchChecks()
    {
        bool checks = PaePaging && (_efer & EFER_NXE) != 0;
        if (checks != FetchChecks)
        {
            FetchChecks = checks;
            TranslationEpoch++; // the cache of fetchable pages starts over
        }
    }

    /// <summary>
    /// True when a fetch at <paramref name="linear"/> was found allowed since translations last moved: what a block
    /// link checks before it is followed, so that a link never runs code from a page that is execute-disable now
    /// (false sends the run to GetBlock, whose <see cref="CheckFetch"/> raises the #PF where it belongs).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal bool FetchKnownAllowed(uint linear)
    {
        int slot = (int)((linear >> 12) & (FetchCheckEntries - 1));
        return _fetchablePage[slot] == (linear & 0xFFFFF000) && _fetchableEpoch[slot] == TranslationEpoch;
    }

    /// <summary>Raise the #PF an instruction fetch at <paramref name="linear"/> takes, if it takes one.</summary>
    internal void CheckFetch(uint linear)
    {
        int slot = (int)((linear >> 12) & (FetchCheckEntries - 1));
        uint page = linear & 0xFFFFF000;
        if (_fetchablePage[slot] == page && _fetchableEpoch[slot] == TranslationEpoch)
            return;
        long epoch = TranslationEpoch;
        Translate(linear, AccessKind.Read | AccessKind.Fetch | (CplValue == 3 ? AccessKind.User : 0));
        if (TranslationEpoch == epoch)
        {
            _fetchablePage[slot] = page;
            _fetchableEpoch[slot] = epoch;
        }
    }
}

namespace MiniHv.Cpu;

/// <summary>
/// Where a locked read-modify-write (a LOCK-prefixed instruction, or XCHG with memory) finds its operand: its host
/// bytes, translated for the read and for the write before anything changes, so that the update itself is one
/// compare-exchange loop on guest RAM (<see cref="AtomicOperand"/>) and atomic against processors on other host threads.
/// </summary>
/// <remarks>
/// The translations are the unlocked form's, in its order (the read, then the write; CMPXCHG8B the write first), so
/// the faults, their error codes and the Accessed and Dirty bits are the same: a write to a shared, copy-on-write or
/// page-table frame takes its hidden fault here, and the update then lands in the private copy, or the MMU hears of
/// it afterwards (<see cref="IMmu.WriteCompleted"/>) as it does of any store. An operand on a device page is not
/// RAM: the instruction then runs its unlocked form, which reaches the device as today.
/// </remarks>
public sealed unsafe partial class Cpu
{
    /// <summary>Held over every split-locked update in the process: one whose operand crosses an 8-byte boundary.</summary>
    internal static readonly object SplitLock = new();

    /// <summary>Locked operations on an operand that crossed an 8-byte boundary, so took the process-wide split lock.</summary>
    public long SplitLocks { get; private set; }

    /// <summary>What the MMU must hear of a locked operation's store: the physical address of each page it wrote, and whether it asked.</summary>
    private struct LockedWrite
    {
        public uint Linear;
        public int Size;
        public int FirstBytes;
        public uint Physical0, Physical1;
        public bool Notify0, Notify1;
    }

    /// <summary>
    /// Translate the <paramref name="size"/>-byte operand of a locked operation at <paramref name="lin"/> for its read
    /// and its write (the write first when <paramref name="writeFirst"/>), faulting as the unlocked form would. False
    /// when a page of it is not RAM.
    /// </summary>
    private bool TryLockOperand(uint lin, int size, bool writeFirst, out AtomicOperand operand, out LockedWrite write)
    {
        operand = default;
        write = default;
        bool crosses = (lin & 0xFFF) > 0x1000 - size;
        uint next = (lin + (uint)size - 1) & 0xFFFFF000;
        int firstBytes = crosses ? (int)(0x1000 - (lin & 0xFFF)) : size;
        if (!writeFirst && !(ReadsRam(lin, firstBytes) && (!crosses || ReadsRam(next, size - firstBytes))))
            return false;

        byte* first = WritableHost(lin, firstBytes, out write.Physical0, out write.Notify0);
        if (first == null)
            return false;
        byte* second = null;
        if (crosses)
        {
            second = WritableHost(next, size - firstBytes, out write.Physical1, out write.Notify1);
            if (second == null)
                return false;
        }

        if (writeFirst && !(ReadsRam(lin, firstBytes) && (!crosses || ReadsRam(next, size - firstBytes))))
            return false;
        write.Linear = lin;
        write.Size = size;
        write.FirstBytes = firstBytes;
        operand = new AtomicOperand(first, second, firstBytes, size);
        return true;
    }

    /// <summary>Translate <paramref name="bytes"/> at <paramref name="lin"/> (in one page) for a read, as a load would; false for a device page.</summary>
    private bool ReadsRam(uint lin, int bytes)
    {
        TlbEntry* e = TlbRead + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000))
            return true;
        if (e->Tag == ((lin & 0xFFFFF000) | TlbEntry.Unbacked))
            return false;
        e = FillRead(lin, false, out _);
        if (_watchedPages != null)
            CheckWatch(lin, bytes, write: false);
        return e != null;
    }

    /// <summary>The host address to store <paramref name="bytes"/> at <paramref name="lin"/> (in one page), as a store would translate it; null for a device page.</summary>
    private byte* WritableHost(uint lin, int bytes, out uint physical, out bool notify)
    {
        physical = 0;
        notify = false;
        TlbEntry* e = TlbWrite + ((lin >> 12) & TlbMask);
        if (e->Tag == (lin & 0xFFFFF000))
            return (byte*)(e->Addend + lin);
        if (e->Tag == ((lin & 0xFFFFF000) | TlbEntry.Unbacked))
            return null;
        e = FillWrite(lin, bytes, false, out physical, out notify);
        if (_watchedPages != null)
            CheckWatch(lin, bytes, write: true);
        return e == null ? null : (byte*)(e->Addend + lin);
    }

    /// <summary>Before the first Load: a split operand takes the process-wide lock.</summary>
    private void BeginLockedUpdate(in AtomicOperand operand)
    {
        if (!operand.Split)
            return;
        SplitLocks++;
        Monitor.Enter(SplitLock);
    }

    /// <summary>
    /// After the last Load or store: release the split lock, and tell the MMU of the store where it asked, as a store
    /// does (byte by byte where the operand crossed a page, as the unlocked form writes it).
    /// </summary>
    private void EndLockedUpdate(in AtomicOperand operand, in LockedWrite write)
    {
        // Nothing between Begin and here can throw: the update only reads and writes host bytes already translated.
        if (operand.Split)
            Monitor.Exit(SplitLock);
        if (!write.Notify0 && !write.Notify1)
            return;
        if (write.FirstBytes == write.Size)
        {
            Mmu.WriteCompleted(write.Linear, write.Physical0, write.Size);
            return;
        }

        for (int k = 0; k < write.Size; k++)
        {
            if (k < write.FirstBytes && write.Notify0)
                Mmu.WriteCompleted(write.Linear + (uint)k, write.Physical0 + (uint)k, 1);
            else if (k >= write.FirstBytes && write.Notify1)
                Mmu.WriteCompleted(write.Linear + (uint)k, write.Physical1 + (uint)(k - write.FirstBytes), 1);
        }
    }
}

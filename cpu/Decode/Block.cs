using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>
/// A run of decoded instructions that starts at one guest-physical address and ends at a
/// control transfer, an instruction that changes processor mode, or the end of the page.
/// </summary>
internal sealed unsafe class Block
{
    /// <param name="decoded">The decoded instructions; the first <paramref name="count"/> are copied.</param>
    public Block(uint physical, int bitness, ReadOnlySpan<Insn> decoded, int count, uint lastFrame)
    {
        Physical = physical;
        Bitness = bitness;

        // Pinned, so the execution loop can hold plain pointers into it (no GC write barriers per block).
        Insns = GC.AllocateUninitializedArray<Insn>(count, pinned: true);
        decoded[..count].CopyTo(Insns);
        First = (Insn*)Unsafe.AsPointer(ref Insns[0]);
        Count = count;
        LastFrame = lastFrame;
    }

    /// <summary>The first instruction, in the pinned <see cref="Insns"/>.</summary>
    public readonly Insn* First;

    public uint Physical { get; }

    /// <summary>16 or 32: the code-segment size the block was decoded for.</summary>
    public int Bitness { get; }

    public Insn[] Insns { get; }

    public int Count { get; }

    /// <summary>The frame holding the block's last byte (differs from the first only for a single instruction that crosses a page).</summary>
    public uint LastFrame { get; }

    /// <summary>One instruction whose bytes go on in the next page: it holds only while that page maps to <see cref="LastFrame"/>.</summary>
    public bool CrossesPage { get; init; }

    public bool Valid { get; set; } = true;

    /// <summary>Runs counted towards compilation (cpu/Compile), up to the CPU's threshold.</summary>
    public int Hits;

    /// <summary>Host code for a prefix of the block, once the compile thread has installed it; it dies with the block.</summary>
    public CompiledBlock? Compiled
    {
        get => _compiled;
        set
        {
            // The count first: a guest thread that sees the code (a volatile read) sees its count. Code compiled
            // again for this block, or reused from a block with the same instructions, covers the same prefix, so
            // a count left from earlier code is never wrong for newer code.
            if (value != null)
                CompiledCount = value.Count;
            _compiled = value;
            CompiledEntry = value?.Code;
        }
    }

    private volatile CompiledBlock? _compiled;

    // The same code as Compiled, held here for the chaining of compiled blocks (Cpu.ChainCompiled): each step
    // reads the next block and its delegate, not a third object between them. Null when there is no code.
    public volatile CompiledCode? CompiledEntry;

    /// <summary>How many instructions the compiled code covers when it runs to its end (valid while <see cref="CompiledEntry"/> is set).</summary>
    public int CompiledCount;

    // Two successors remembered by the guest-physical address they start at, so a hot loop goes block
    // to block without a lookup. They hold while the CPU's chain epoch (CS's shape) is the one they were
    // made under; the CPU finds the address through its TLB in use (Cpu.LinkedSuccessor), so the same
    // exit reaching different code in two address spaces keeps a link to each.
    public long ChainEpoch = -1;
    public uint NextPhysical0, NextPhysical1;
    public Block? Next0, Next1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Block? Successor(uint physical, long epoch)
    {
        if (ChainEpoch != epoch)
            return null;
        if (Next0 != null && NextPhysical0 == physical)
            return Next0;
        if (Next1 != null && NextPhysical1 == physical)
            return Next1;
        return null;
    }

    public void Link(Block next, long epoch)
    {
        if (ChainEpoch != epoch)
        {
            ChainEpoch = epoch;
            Next0 = Next1 = null;
        }

        if (Next0 == null || NextPhysical0 == next.Physical)
        {
            NextPhysical0 = next.Physical;
            Next0 = next;
        }
        else
        {
            NextPhysical1 = next.Physical;
            Next1 = next;
        }
    }
}

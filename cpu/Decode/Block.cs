namespace MiniHv.Cpu;

/// <summary>
/// A run of decoded instructions that starts at one guest-physical address and ends at a
/// control transfer, an instruction that changes processor mode, or the end of the page.
/// </summary>
internal sealed class Block
{
    public Block(uint physical, int bitness, Insn[] insns, int count, uint lastFrame)
    {
        Physical = physical;
        Bitness = bitness;
        Insns = insns;
        Count = count;
        LastFrame = lastFrame;
    }

    public uint Physical { get; }

    /// <summary>16 or 32: the code-segment size the block was decoded for.</summary>
    public int Bitness { get; }

    public Insn[] Insns { get; }

    public int Count { get; }

    /// <summary>The frame holding the block's last byte (differs from the first only for a single instruction that crosses a page).</summary>
    public uint LastFrame { get; }

    public bool Valid { get; set; } = true;
}

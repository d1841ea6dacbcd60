using System.Runtime.InteropServices;
using Iced.Intel;

namespace MiniHv.Cpu;

/// <summary>
/// The decoded-block cache, keyed by guest-physical address. A block is decoded once with Iced
/// and reused until the bytes it came from are written; <see cref="CodeFrames"/> marks the frames that
/// hold decoded code so the write path knows when to look.
/// </summary>
/// <remarks>
/// Small programs keep their data on the pages of their code (a JOS user program's globals follow its
/// text), so a store to a code frame drops the frame's blocks only when it touches a 64-byte chunk that
/// some block was decoded from. A store beside the code goes through and the blocks stay; the TLB keeps
/// no write entry for the frame, so every store to it is checked the same way.
/// </remarks>
public sealed unsafe partial class Cpu
{
    private const int MaxBlockInstructions = 64;
    private const int FastBlockEntries = 4096;

    // One byte per guest frame of the 4 GiB physical space: nonzero when it holds decoded code.
    internal byte* CodeFrames;

    private readonly Dictionary<uint, Block> _blocks = new();
    private const int CodeChunkShift = 6; // 64 chunks of 64 bytes: one bit each in CodeFrame.Chunks

    private readonly Dictionary<uint, CodeFrame> _blocksByFrame = new();
    private readonly Block?[] _fastBlocks = new Block?[FastBlockEntries];

    // Blocks dropped while they may still be running: the chaining loop holds raw pointers into their pinned
    // instruction arrays, so they stay reachable until the next run of blocks begins.
    private readonly List<Block> _droppedBlocks = new();

    // Where a block is decoded before its instructions are copied into a block of the right size.
    private readonly Insn[] _decodeScratch = new Insn[MaxBlockInstructions];

    /// <summary>Number of blocks decoded since creation (a decode-cache miss counter).</summary>
    public long BlocksDecoded { get; private set; }

    /// <summary>Blocks found by their address rather than through a link from the block before (see <see cref="LinkedSuccessor"/>).</summary>
    public long BlockLookups { get; private set; }

    private void InitCodeCache() => CodeFrames = (byte*)NativeMemory.AllocZeroed(1u << 20);

    private void FreeCodeCache() => NativeMemory.Free(CodeFrames);

    /// <summary>Tell the CPU that something other than itself (a device, a loader) wrote guest frame <paramref name="gfn"/>.</summary>
    public void NotifyFrameWritten(uint gfn)
    {
        if (CodeFrames[gfn & 0xFFFFF] != 0)
            InvalidateCodeFrame(gfn & 0xFFFFF);
    }

    /// <summary>The processors sharing this one's memory, or null when it is alone.</summary>
    public CpuGroup? Group { get; internal set; }

    /// <summary>Drop every decoded block.</summary>
    public void FlushCodeCache()
    {
        foreach (var b in _blocks.Values)
        {
            b.Valid = false;
            _droppedBlocks.Add(b);
        }

        _blocks.Clear();
        _blocksByFrame.Clear();
        Array.Clear(_fastBlocks);
        NativeMemory.Clear(CodeFrames, 1u << 20);
        AbortBlock = true;
    }

    /// <summary>Drop the blocks decoded from <paramref name="gfn"/>, in every processor of the group.</summary>
    internal void InvalidateCodeFrame(uint gfn)
    {
        if (Group != null)
            Group.InvalidateCodeFrame(this, gfn);
        else
            InvalidateOwnCodeFrame(gfn);
    }

    internal void InvalidateOwnCodeFrame(uint gfn)
    {
        CodeFrames[gfn] = 0;
        if (_blocksByFrame.Remove(gfn, out CodeFrame? frame))
        {
            foreach (var b in frame.Blocks)
            {
                b.Valid = false;
                _blocks.Remove(b.Physical);
                _droppedBlocks.Add(b);
            }
        }

        // The block now running may be one of them: leave it after the current instruction.
        AbortBlock = true;
    }

    /// <summary>Find or decode the block at CS:<paramref name="eip"/>. May raise #PF (fetch) or #GP (CS limit).</summary>
    internal Block GetBlock(uint eip)
    {
        BlockLookups++;
        ref SegmentCache cs = ref Segs[(int)SegReg.CS];
        int bitness = cs.Big ? 32 : 16;
        if ((CheckedSegments & (1 << (int)SegReg.CS)) != 0 && eip > cs.Limit)
            throw Fault(Vectors.GP, 0);
        uint lin = SegBase[(int)SegReg.CS] + eip;
        if (FetchChecks)
            CheckFetch(lin); // execute-disable pages: see Cpu.FetchCheck.cs
        TlbEntry* e = TlbRead + ((lin >> 12) & TlbMask);
        uint physical;
        if (e->Tag == (lin & 0xFFFFF000))
        {
            physical = (e->Gfn << 12) | (lin & 0xFFF);
        }
        else
        {
            e = FillRead(lin, false, out physical);
            if (e == null)
                throw Fault(Vectors.UD); // executing from a hole: nothing decodes there
        }

        Block? b = _fastBlocks[physical & (FastBlockEntries - 1)];
        if (b != null && b.Physical == physical && b.Valid && b.Bitness == bitness && (!b.CrossesPage || NextPageStillMaps(lin, b.LastFrame)))
            return b;
        if (!_blocks.TryGetValue(physical, out b) || b.Bitness != bitness || (b.CrossesPage && !NextPageStillMaps(lin, b.LastFrame)))
            b = DecodeBlock(lin, eip, physical, (byte*)(e->Addend + lin), bitness);
        if (b.Valid)
            _fastBlocks[physical & (FastBlockEntries - 1)] = b;
        return b;
    }

    private Block DecodeBlock(uint lin, uint eip, uint physical, byte* host, int bitness)
    {
        BlocksDecoded++;
        int available = 0x1000 - (int)(lin & 0xFFF);
        var reader = new PageCodeReader(this, host, available, lin);
        var decoder = Decoder.Create(bitness, reader, eip, DecoderOptions.NoInvalidCheck);
        Insn[] insns = _decodeScratch;
        int count = 0;
        bool crossesPage = false;

        // 32-bit code goes on past a conditional branch: kernels and fork's page-table scans branch every few
        // instructions, mostly not taken, and every block end costs a link look-up. Under both tiers: the block
        // compiler compiles such a branch as a side exit, and the blocks it has not compiled (yet) run interpreted
        // as fast as under CpuTier.Interp (docs/performance.md, "Block compiler as the default", seventh session).
        bool fallThrough = bitness == 32;
        while (count < MaxBlockInstructions)
        {
            uint offset = (uint)(decoder.IP - eip);
            reader.AllowCrossing = count == 0;
            decoder.Decode(out Instruction ins);
            if (ins.IsInvalid && decoder.LastError == DecoderError.NoMoreBytes)
            {
                if (count == 0)
                    throw Fault(Vectors.UD);
                break; // the next instruction crosses the page: it starts a block of its own
            }

            if (reader.Crossed)
                crossesPage = true;
            ref Insn insn = ref insns[count++];
            insn = default;
            insn.Offset = (ushort)offset;
            insn.NextOffset = (ushort)(offset + (uint)ins.Length);
            insn.Length = (byte)ins.Length;
            bool ends = InsnBuilder.Build(ref insn, in ins, decoder.LastError != DecoderError.None);
            if (ends && fallThrough && (nint)insn.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Jcc && insn.Size == 4 && !crossesPage && !reader.Crossed)
            {
                insn.Exec = &JccSideExit; // the block goes on past it, while it is not taken
                ends = false;
            }

            if (ends || crossesPage || insn.NextOffset >= available)
                break;
        }

        uint gfn = physical >> 12;
        uint lastFrame = gfn;
        if (crossesPage)
        {
            // One instruction whose bytes go on in the next page: cached with that page's frame, and used again only
            // while the TLB maps the next page there (GetBlock). A next page the TLB cannot keep (a device, a watched
            // page) leaves it to run once, uncached.
            uint next = (lin & 0xFFFFF000) + 0x1000;
            TlbEntry* e = TlbRead + ((next >> 12) & TlbMask);
            if (e->Tag != next)
            {
                var once = new Block(physical, bitness, insns, count, gfn) { CrossesPage = true, Valid = false };
                _droppedBlocks.Add(once);
                return once;
            }

            lastFrame = e->Gfn;
        }

        var block = new Block(physical, bitness, insns, count, lastFrame) { CrossesPage = crossesPage };
        _blocks[physical] = block;
        uint end = (physical & 0xFFF) + insns[count - 1].NextOffset;
        AddToCodeFrame(gfn, block, ChunksOf(physical & 0xFFF, end - (physical & 0xFFF)));
        if (crossesPage)
            AddToCodeFrame(lastFrame, block, ChunksOf(0, end - 0x1000));
        return block;
    }

    /// <summary>Record that <paramref name="block"/> was decoded from <paramref name="chunks"/> of frame <paramref name="gfn"/>, so a store there drops it.</summary>
    private void AddToCodeFrame(uint gfn, Block block, ulong chunks)
    {
        if (!_blocksByFrame.TryGetValue(gfn, out CodeFrame? frame))
            _blocksByFrame[gfn] = frame = new CodeFrame();
        frame.Blocks.Add(block);
        frame.Chunks |= chunks;
        if (CodeFrames[gfn] == 0)
        {
            CodeFrames[gfn] = 1;
            FlushWriteEntriesOfFrame(gfn);
            Group?.MarkCode(this, gfn);
        }
    }

    /// <summary>
    /// For a block whose instruction goes on past the page of <paramref name="lin"/>: true while the TLB in use maps
    /// the next page to <paramref name="lastFrame"/>, the frame it was decoded from, and (under EFER.NXE) the page is
    /// known to be fetchable. Otherwise the block is decoded again, which fetches (and faults) as the first time.
    /// </summary>
    private bool NextPageStillMaps(uint lin, uint lastFrame)
    {
        uint next = (lin & 0xFFFFF000) + 0x1000;
        TlbEntry* e = TlbRead + ((next >> 12) & TlbMask);
        return e->Tag == next && e->Gfn == lastFrame && (!FetchChecks || FetchKnownAllowed(next));
    }

    /// <summary>
    /// True when a store of <paramref name="size"/> bytes at <paramref name="offset"/> in code frame
    /// <paramref name="gfn"/> touches bytes some block was decoded from (at 64-byte grain).
    /// </summary>
    private bool StoreTouchesCode(uint gfn, uint offset, int size)
        => Group?.StoreTouchesCode(this, gfn, offset, size) ?? StoreTouchesOwnCode(gfn, offset, size) != false;

    /// <summary>Whether the store touches this processor's own blocks of the frame; null when it has none there.</summary>
    internal bool? StoreTouchesOwnCode(uint gfn, uint offset, int size)
        => _blocksByFrame.TryGetValue(gfn, out CodeFrame? frame) ? (frame.Chunks & ChunksOf(offset, (uint)size)) != 0 : null;

    /// <summary>The 64-byte chunks of a frame that bytes [offset, offset + length) overlap, one bit each.</summary>
    private static ulong ChunksOf(uint offset, uint length)
    {
        int first = (int)(offset >> CodeChunkShift);
        int last = (int)(Math.Min(offset + length - 1, 0xFFFu) >> CodeChunkShift);
        ulong upToLast = last == 63 ? ulong.MaxValue : (1ul << (last + 1)) - 1;
        return upToLast & ~((1ul << first) - 1);
    }

    /// <summary>The blocks decoded from one guest frame, and the chunks of the frame they cover.</summary>
    private sealed class CodeFrame
    {
        public readonly List<Block> Blocks = new();
        public ulong Chunks;
    }

    /// <summary>Feeds Iced the bytes of one page; an instruction may cross into the next only when allowed.</summary>
    private sealed class PageCodeReader : CodeReader
    {
        private readonly Cpu _cpu;
        private readonly byte* _host;
        private readonly int _available;
        private readonly uint _linear;
        private int _pos;

        public PageCodeReader(Cpu cpu, byte* host, int available, uint linear)
        {
            _cpu = cpu;
            _host = host;
            _available = available;
            _linear = linear;
        }

        public bool AllowCrossing { get; set; }

        public bool Crossed { get; private set; }

        public override int ReadByte()
        {
            if (_pos < _available)
                return _host[_pos++];
            if (!AllowCrossing)
                return -1;
            Crossed = true;
            if (_cpu.FetchChecks)
                _cpu.CheckFetch(_linear + (uint)_pos);
            return _cpu.Read8(_linear + (uint)_pos++);
        }
    }
}

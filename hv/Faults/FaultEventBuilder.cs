using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>
/// Makes <see cref="FaultEvent"/>s for one guest from what the CPU records (<see cref="FaultRecord"/>) and
/// what the hypervisor knows of a hidden fault, reading the faulting instruction quietly. Not thread-safe:
/// the guest's own thread builds its events.
/// </summary>
public sealed class FaultEventBuilder
{
    private readonly FaultDisassembler _disassembler;

    /// <param name="guest">The guest's name.</param>
    /// <param name="guestId">The guest's number within the run.</param>
    /// <param name="read">Reads the guest's linear memory without side effects (see <see cref="QuietLinearReader"/>).</param>
    /// <param name="syntax">How instructions are spelled.</param>
    /// <param name="processors">The guest's processors (QEMU's <c>-smp N</c>).</param>
    public FaultEventBuilder(string guest, int guestId, GuestLinearReader read, DisassemblySyntax syntax = DisassemblySyntax.Gas, int processors = 1)
    {
        ArgumentNullException.ThrowIfNull(guest);
        ArgumentOutOfRangeException.ThrowIfLessThan(processors, 1);
        Guest = guest;
        GuestId = guestId;
        Processors = processors;
        _disassembler = new FaultDisassembler(read, syntax);
        _syntax = syntax;
    }

    private readonly DisassemblySyntax _syntax;

    public string Guest { get; }

    /// <summary>The guest's processors, stamped on every event.</summary>
    public int Processors { get; }

    public int GuestId { get; }

    /// <summary>
    /// The event for an exception the CPU is about to deliver to the guest; null when the record is an
    /// interrupt or system call (vector 32 and up), which is no fault.
    /// </summary>
    /// <param name="record">What the CPU's fault observer received.</param>
    /// <param name="instructions">Guest instructions retired so far.</param>
    /// <param name="ordinal">This event's number among its kind in this guest (0 when not counted).</param>
    /// <param name="codeSegmentBase">CS's base at the fault (0 for flat segments).</param>
    /// <param name="bitness">The code segment's default operand size: 32 or 16.</param>
    public FaultEvent? FromRecord(in FaultRecord record, long instructions, long ordinal = 0, uint codeSegmentBase = 0, int bitness = 32)
    {
        if (FaultKinds.FromVector(record.Vector) is not FaultKind kind)
            return null;
        return Exception(kind, record, instructions, ordinal, codeSegmentBase, bitness, FaultHandler.Guest);
    }

    /// <summary>
    /// The event for a triple fault: <paramref name="last"/> is the fault the CPU recorded last, the one it
    /// could not deliver while delivering a double fault. The hypervisor stops the guest.
    /// </summary>
    public FaultEvent TripleFault(in FaultRecord last, long instructions, long ordinal = 0, uint codeSegmentBase = 0, int bitness = 32)
        => Exception(FaultKind.TripleFault, last, instructions, ordinal, codeSegmentBase, bitness, FaultHandler.Hypervisor);

    /// <summary>The event for a hidden fault the hypervisor resolved.</summary>
    /// <param name="kind">One of the hidden kinds (<see cref="FaultKinds.IsHidden"/>).</param>
    /// <param name="site">Where it happened.</param>
    /// <param name="ordinal">This event's number among its kind in this guest (0 when not counted).</param>
    /// <param name="bitness">The code segment's default operand size: 32 or 16.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is a guest exception.</exception>
    public FaultEvent Hidden(FaultKind kind, in HiddenFaultSite site, long ordinal = 0, int bitness = 32)
    {
        if (!FaultKinds.IsHidden(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a hidden fault kind");
        return new FaultEvent
        {
            Guest = Guest,
            GuestId = GuestId,
            Kind = kind,
            Cr2 = site.Cr2,
            Cr3 = site.Cr3,
            Eip = site.Eip,
            Cpl = site.Cpl,
            Cpu = site.Processor,
            Processors = Processors,
            Gfn = site.Gfn,
            Linear = site.Linear,
            Instruction = _disassembler.At(site.Eip, site.CodeSegmentBase, bitness),
            HandledBy = FaultHandler.Hypervisor,
            Instructions = site.Instructions,
            Ordinal = ordinal,
        };
    }

    /// <summary>
    /// An exception kept as values (<see cref="CapturedException"/>): the record and the instruction's bytes, read
    /// now. Allocates nothing. Only the guest's thread may call this.
    /// </summary>
    internal void Capture(ref CapturedException into, in FaultRecord record, long instructions, long ordinal, uint codeSegmentBase,
        int bitness)
    {
        into.Record = record;
        into.Instructions = instructions;
        into.Ordinal = ordinal;
        into.CodeSegmentBase = codeSegmentBase;
        into.Bitness = bitness;
        into.ByteCount = _disassembler.Read(record.Eip, codeSegmentBase, into.Bytes);
    }

    /// <summary>
    /// The event of a captured exception, the same as <see cref="FromRecord"/> would have made when it happened.
    /// Safe on any thread: it disassembles with a formatter of its own.
    /// </summary>
    internal FaultEvent FromCaptured(in CapturedException c)
    {
        FaultKind kind = FaultKinds.FromVector(c.Record.Vector)!.Value;
        ReadOnlySpan<byte> bytes = c.Bytes;
        FaultInstruction instruction = new FaultDisassembler(static (_, _) => 0, _syntax)
            .Decode(bytes[..c.ByteCount], c.Record.Eip, c.Bitness);
        return Exception(kind, c.Record, c.Instructions, c.Ordinal, c.CodeSegmentBase, FaultHandler.Guest, instruction);
    }

    private FaultEvent Exception(FaultKind kind, in FaultRecord record, long instructions, long ordinal, uint codeSegmentBase,
        int bitness, FaultHandler handler)
        => Exception(kind, record, instructions, ordinal, codeSegmentBase, handler, _disassembler.At(record.Eip, codeSegmentBase, bitness));

    private FaultEvent Exception(FaultKind kind, in FaultRecord record, long instructions, long ordinal, uint codeSegmentBase,
        FaultHandler handler, FaultInstruction instruction)
    {
        int? errorCode = record.ErrorCode >= 0 ? record.ErrorCode : null;
        PageFaultAccess? access = record.Vector == Vectors.PF && errorCode is int code
            ? AccessOf(new PageFaultErrorCode(code), record.Cr2, unchecked(codeSegmentBase + record.Eip), instruction)
            : null;
        return new FaultEvent
        {
            Guest = Guest,
            GuestId = GuestId,
            Kind = kind,
            Vector = record.Vector,
            Cr2 = record.Cr2,
            Cr3 = record.Cr3,
            Eip = record.Eip,
            Cpl = record.Cpl,
            Cpu = record.Processor,
            Processors = Processors,
            ErrorCode = errorCode,
            Access = access,
            External = record.External,
            Instruction = instruction,
            HandledBy = handler,
            Instructions = instructions,
            Ordinal = ordinal,
        };
    }

    /// <summary>
    /// A 386 never sets the I/D bit, so a fetch fault reads as a read: it is one when CR2 lies inside the
    /// instruction (or, when the instruction could not be read whole, inside the 15 bytes it may span).
    /// </summary>
    private static PageFaultAccess AccessOf(PageFaultErrorCode code, uint cr2, uint linearEip, FaultInstruction instruction)
    {
        if (code.Fetch)
            return PageFaultAccess.Fetch;
        if (code.Write)
            return PageFaultAccess.Write;
        uint span = instruction.Disassembly != null ? (uint)instruction.Bytes.Length : FaultDisassembler.MaxInstructionLength;
        return unchecked(cr2 - linearEip) < span ? PageFaultAccess.Fetch : PageFaultAccess.Read;
    }
}

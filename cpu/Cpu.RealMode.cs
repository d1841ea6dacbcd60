namespace MiniHv.Cpu;

/// <summary>
/// Real-address mode (CR0.PE = 0), as a boot sector finds the processor: segment registers hold paragraph
/// numbers (base = selector &lt;&lt; 4), interrupts go through the interrupt vector table of 4-byte
/// segment:offset pointers at IDTR.base (0 after reset), and the switch to protected mode and back is a
/// write of CR0 followed by a far jump. And the A20 gate, which masks bit 20 of every physical address
/// while it is closed.
/// </summary>
/// <remarks>
/// <para>
/// Nothing here is on a hot path. Real-mode code runs through the same decoded blocks as protected-mode
/// code: a code segment without the D bit decodes as 16-bit code, every memory access already goes through
/// the segment base, and a segment whose base is not 0 or whose limit is not 4 GiB is checked on each access
/// by the existing limit check. Only segment loads, far transfers, interrupt delivery and IRET look at the
/// mode, and each of them is a slow operation of its own.
/// </para>
/// <para>
/// Segment loads in real mode set the selector and the base and leave the descriptor cache's limit and
/// size as they were (so a kernel that comes back from protected mode with 4 GiB data segments keeps them:
/// "unreal mode", as on Intel processors), and mark the segment present, writable data. A code segment
/// loaded by a far transfer or an interrupt in real mode is 16-bit with a 64 KiB limit. CPL is 0 throughout.
/// </para>
/// <para>
/// There is no BIOS behind the vector table: its entries are all 0000:0000 until the guest writes them. An
/// interrupt or exception whose vector is still 0000:0000 would run the table itself as code, so the guest
/// stops there instead with <see cref="UnsupportedReason"/> naming the vector ("no BIOS: int 0x13 ...").
/// </para>
/// </remarks>
public sealed unsafe partial class Cpu
{
    private uint _a20Mask = 0xFFFF_FFFF;

    /// <summary>True in real-address mode (CR0.PE clear).</summary>
    public bool RealMode => (_cr0 & CR0_PE) == 0;

    /// <summary>
    /// The A20 gate: while false, bit 20 of every physical address is forced to 0, so addresses wrap at 1 MiB
    /// as on an 8086. Open (true) at reset here, as a multiboot loader and a BIOS leave it.
    /// </summary>
    public bool A20Enabled
    {
        get => _a20Mask == 0xFFFF_FFFF;
        set
        {
            uint mask = value ? 0xFFFF_FFFF : ~(1u << 20);
            if (mask == _a20Mask)
                return;
            _a20Mask = mask;
            // Every cached translation was made with the other mask; decoded blocks are keyed by physical address, found through the TLB.
            FlushTlb();
            AbortBlock = true;
        }
    }

    /// <summary>
    /// The state a PC BIOS leaves when it jumps to a boot sector: real mode at <paramref name="cs"/>:<paramref name="ip"/>,
    /// DS = ES = SS = 0 and FS = GS = 0 with 64 KiB limits, SP = <paramref name="sp"/>, the vector table at 0
    /// (IDTR limit 0x3FF), interrupts off, paging off.
    /// </summary>
    public void ResetReal(ushort cs, ushort ip, ushort sp)
    {
        ResetCommon(CR0_ET, i => RealModeSegment(i == (int)SegReg.CS ? cs : (ushort)0, code: i == (int)SegReg.CS));
        EipValue = ip;
        R[4] = sp;
    }

    /// <summary>A segment as real mode loads it: base = selector * 16, 64 KiB, present, 16-bit; readable code or writable data.</summary>
    private static SegmentCache RealModeSegment(ushort selector, bool code) => new()
    {
        Selector = selector,
        Base = (uint)selector << 4,
        Limit = 0xFFFF,
        Attributes = (ushort)(code ? 0x9B : 0x93),
    };

    /// <summary>MOV, POP, LDS-style load of a data or stack segment register in real mode: base only, the cached limit and size stay.</summary>
    private void LoadRealModeSegment(int seg, ushort selector)
    {
        SegmentCache cache = Segs[seg];
        cache.Selector = selector;
        cache.Base = (uint)selector << 4;
        if (cache.IsNull)
            cache.Limit = 0xFFFF;
        cache.IsNull = false;
        cache.Attributes = (ushort)((cache.Attributes & 0xF000) | 0x93); // keep G and D/B, make it present writable data
        SetSegmentCache((SegReg)seg, cache);
    }

    /// <summary>Load CS in real mode: 16-bit code at selector * 16 with a 64 KiB limit.</summary>
    private void LoadRealModeCs(ushort selector)
    {
        SetSegmentCache(SegReg.CS, RealModeSegment(selector, code: true));
        AbortBlock = true;
    }

    private void RealModeFarJump(ushort selector, uint offset)
    {
        if (offset > 0xFFFF)
            throw Fault(Vectors.GP, 0);
        LoadRealModeCs(selector);
        EipValue = offset;
    }

    private void RealModeFarCall(ushort selector, uint offset, int size)
    {
        if (offset > 0xFFFF)
            throw Fault(Vectors.GP, 0);
        uint savedEsp = R[4];
        try
        {
            PushSized(Segs[(int)SegReg.CS].Selector, size);
            PushSized(size == 2 ? EipValue & 0xFFFF : EipValue, size);
        }
        catch (GuestFault)
        {
            R[4] = savedEsp;
            throw;
        }

        LoadRealModeCs(selector);
        EipValue = offset;
    }

    /// <summary>RETF [imm16] in real mode: pop IP (EIP) and CS, then release the arguments.</summary>
    private void RealModeFarReturn(int size, uint release)
    {
        uint ip = PeekStack(0, size);
        ushort cs = (ushort)PeekStack((uint)size, size);
        if (ip > 0xFFFF)
            throw Fault(Vectors.GP, 0);
        PopSized(size);
        PopSized(size);
        AdjustSp(release);
        LoadRealModeCs(cs);
        EipValue = ip;
    }

    /// <summary>IRET in real mode: pop IP, CS and FLAGS (EIP, CS, EFLAGS with an operand-size prefix).</summary>
    private void RealModeInterruptReturn(int size)
    {
        uint ip = PeekStack(0, size);
        ushort cs = (ushort)PeekStack((uint)size, size);
        uint flags = PeekStack((uint)(2 * size), size);
        if (ip > 0xFFFF)
            throw Fault(Vectors.GP, 0);
        PopSized(size);
        PopSized(size);
        PopSized(size);
        WriteFlagsFromStack(flags, size);
        LoadRealModeCs(cs);
        EipValue = ip;
    }

    /// <summary>
    /// Deliver through the vector table: push FLAGS, CS and IP, clear IF, TF, AC and RF, and jump to the
    /// vector's segment:offset. No error code is pushed in real mode. A vector still at 0000:0000 stops the guest.
    /// </summary>
    private void RealModeDeliver(int vector, bool software, bool external)
    {
        Halted = false;
        uint entry = (uint)vector * 4;
        if (entry + 3 > Idtr.Limit)
            throw Fault(Vectors.GP, 0);
        uint pointer = ReadSupervisor(Idtr.Base + entry, 4);
        if (pointer == 0)
        {
            NoBios(vector, software, external);
            return;
        }

        uint flags = GetEflags();
        uint savedEsp = R[4];
        try
        {
            PushSized(flags & 0xFFFF, 2);
            PushSized(Segs[(int)SegReg.CS].Selector, 2);
            PushSized(EipValue & 0xFFFF, 2);
        }
        catch (GuestFault)
        {
            R[4] = savedEsp;
            throw;
        }

        FlagsRest &= ~(IF | TF | AC | RF);
        LoadRealModeCs((ushort)(pointer >> 16));
        EipValue = pointer & 0xFFFF;
    }

    /// <summary>An interrupt through a vector nothing has set: the guest expected a BIOS. Stop with what it asked for.</summary>
    private void NoBios(int vector, bool software, bool external)
    {
        // EIP names the INT itself in the register dump, not the instruction after it.
        if (software)
            EipValue = CurrentInstructionEip;
        string where = $"{Segs[(int)SegReg.CS].Selector:x4}:{EipValue & 0xFFFF:x4}";
        string what = software
            ? $"int 0x{vector:x2}{BiosServiceName(vector)} at {where}"
            : external
                ? $"hardware interrupt on vector 0x{vector:x2} in real mode at {where}"
                : $"exception {vector}{ExceptionName(vector)} in real mode at {where}";
        UnsupportedReason = $"no BIOS: {what}: its interrupt vector is 0000:0000, and MiniHv boots without a BIOS "
            + "(a boot sector must read the disk through the IDE ports, 0x1F0-0x1F7)";
        AbortBlock = true;
    }

    private string BiosServiceName(int vector)
    {
        string? service = vector switch
        {
            0x10 => "video services",
            0x11 => "equipment list",
            0x12 => "memory size",
            0x13 => "disk services",
            0x14 => "serial port services",
            0x15 => "system services",
            0x16 => "keyboard services",
            0x17 => "printer services",
            0x18 => "ROM BASIC",
            0x19 => "bootstrap loader",
            0x1A => "time services",
            _ => null,
        };
        return service == null ? "" : $" ({service}, AH=0x{(R[0] >> 8) & 0xFF:x2})";
    }

    private static string ExceptionName(int vector) => vector switch
    {
        Vectors.DE => " (#DE)",
        Vectors.BP => " (#BP)",
        Vectors.UD => " (#UD)",
        Vectors.DF => " (#DF)",
        Vectors.SS => " (#SS)",
        Vectors.GP => " (#GP)",
        _ => "",
    };
}

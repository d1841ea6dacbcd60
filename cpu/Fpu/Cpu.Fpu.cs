using MiniHv.Cpu.Fpu;

namespace MiniHv.Cpu;

/// <remarks>
/// The x87 unit as the instruction handlers see it. Every x87 instruction enters through
/// <see cref="FpuEnter"/>: CR0.EM or CR0.TS gives #NM, a CPU without an FPU (CPUID bit 0 clear) gives
/// #UD, and a waiting instruction with an unmasked exception pending (status word ES) delivers it first:
/// #MF when CR0.NE=1; with NE=0 the error was already signalled on FERR# (the PC routes it to IRQ 13
/// through <see cref="FpuErrorSignal"/>) and the instruction proceeds, as with IGNNE# asserted.
/// After computing, <see cref="FpuSignal"/> merges the exceptions into the status word and says whether
/// the result may be written: not when IE, DE or ZE is unmasked (nor OE or UE for a memory destination).
/// </remarks>
public sealed unsafe partial class Cpu
{
    /// <summary>CPUID leaf 1 EDX bit 0: an on-chip x87 FPU.</summary>
    public const uint FeatureFpu = 1u << 0;

    /// <summary>The x87 registers, control, status and tag words.</summary>
    public FpuState Fpu { get; } = new();

    public bool FpuPresent => (FeatureFlags & FeatureFpu) != 0;

    /// <summary>Raised when an unmasked x87 exception is signalled with CR0.NE=0 (FERR#); a PC wires it to IRQ 13.</summary>
    public Action? FpuErrorSignal { get; set; }

    // Memory formats of x87 operands (Insn.Imm2 low byte).
    internal const int FmtNone = 0, FmtF32 = 1, FmtF64 = 2, FmtF80 = 3, FmtI16 = 4, FmtI32 = 5, FmtI64 = 6, FmtBcd = 7;

    /// <summary>The checks every x87 instruction makes before it runs; records the instruction and data pointers unless <paramref name="control"/>.</summary>
    internal void FpuEnter(ref Insn i, bool waiting = true, bool control = false)
    {
        if ((_cr0 & (CR0_EM | CR0_TS)) != 0)
            throw Fault(Vectors.NM);
        if (!FpuPresent)
            throw Fault(Vectors.UD);
        if (waiting && (Fpu.StatusFlags & FpuState.SwErrorSummary) != 0 && (_cr0 & CR0_NE) != 0)
            throw Fault(Vectors.MF);
        if (control)
            return;
        var f = Fpu;
        uint eip = CurrentInstructionEip;
        if (RealMode)
        {
            f.LastInstructionOffset = (uint)(Segs[(int)SegReg.CS].Selector << 4) + eip;
            f.LastInstructionSelector = 0;
        }
        else
        {
            f.LastInstructionOffset = eip;
            f.LastInstructionSelector = Segs[(int)SegReg.CS].Selector;
        }

        f.LastOpcode = (ushort)(i.Imm2 >> 16);
        if ((i.Form & FormOp0Mem) != 0)
        {
            uint ea = EffectiveAddress(ref i);
            if (RealMode)
            {
                f.LastDataOffset = (uint)(Segs[i.Seg].Selector << 4) + ea;
                f.LastDataSelector = 0;
            }
            else
            {
                f.LastDataOffset = ea;
                f.LastDataSelector = Segs[i.Seg].Selector;
            }
        }
    }

    internal FloatContext FpuContext() => FloatContext.FromControlWord(Fpu.ControlWord);

    /// <summary>
    /// Merge the operation's exceptions into the status word, set C1 from the rounding (unless a stack fault
    /// set it), raise ES and B for unmasked ones, and say whether the result may be written.
    /// </summary>
    internal bool FpuSignal(ref FloatContext ctx, bool memoryDestination = false)
    {
        const int PreComputation = FloatContext.Invalid | FloatContext.DenormalOperand | FloatContext.ZeroDivide;
        var f = Fpu;
        int flags = ctx.Flags;
        int unmasked = flags & ~f.ControlWord & 0x3F;
        bool write = (unmasked & PreComputation) == 0;
        if (!write)
            flags &= PreComputation | FpuState.SwStackFault;
        if (memoryDestination && (unmasked & (FloatContext.Overflow | FloatContext.Underflow)) != 0)
            write = false;
        f.StatusFlags |= (ushort)flags;
        if ((flags & FpuState.SwStackFault) == 0)
        {
            bool up = write && ctx.RoundedUp && (flags & FloatContext.Precision) != 0;
            f.StatusFlags = (ushort)(up ? f.StatusFlags | FpuState.SwC1 : f.StatusFlags & ~FpuState.SwC1);
        }

        FpuUpdateErrorSummary();
        return write;
    }

    /// <summary>ES and B follow "an exception flag is set whose mask is clear"; a new error asserts FERR# when NE=0.</summary>
    internal void FpuUpdateErrorSummary()
    {
        var f = Fpu;
        bool pending = (f.StatusFlags & ~f.ControlWord & 0x3F) != 0;
        bool was = (f.StatusFlags & FpuState.SwErrorSummary) != 0;
        if (pending)
            f.StatusFlags |= FpuState.SwErrorSummary | FpuState.SwBusy;
        else
            f.StatusFlags &= unchecked((ushort)~(FpuState.SwErrorSummary | FpuState.SwBusy));
        if (pending && !was && (_cr0 & CR0_NE) == 0)
            FpuErrorSignal?.Invoke();
    }

    /// <summary>A stack overflow (<paramref name="overflow"/>) or underflow: IE and SF, C1 telling which.</summary>
    internal static void StackFault(ref FloatContext ctx, FpuState f, bool overflow)
    {
        ctx.Raise(FloatContext.Invalid | FpuState.SwStackFault);
        f.StatusFlags = (ushort)(overflow ? f.StatusFlags | FpuState.SwC1 : f.StatusFlags & ~FpuState.SwC1);
    }

    /// <summary>Push a value: a full stack is an overflow, and its masked response pushes the indefinite.</summary>
    internal void FpuPush(Float80 value, ref FloatContext ctx)
    {
        var f = Fpu;
        if (!f.IsEmpty(7))
        {
            StackFault(ref ctx, f, true);
            if (!FpuSignal(ref ctx))
                return;
            value = Float80.Indefinite;
        }
        else if (!FpuSignal(ref ctx))
        {
            return;
        }

        f.Top = (f.Top - 1) & 7;
        f.SetSt(0, value);
    }

    internal void FpuPop()
    {
        var f = Fpu;
        f.SetTag(f.PhysicalIndex(0), FpuState.TagEmpty);
        f.Top = (f.Top + 1) & 7;
    }

    /// <summary>Underflow when an operand register is empty: masked, the destination gets the indefinite.</summary>
    internal void FpuUnderflow(int destination, int pops)
    {
        var ctx = FpuContext();
        StackFault(ref ctx, Fpu, false);
        if (!FpuSignal(ref ctx))
            return;
        if (destination >= 0)
            Fpu.SetSt(destination, Float80.Indefinite);
        for (int k = 0; k < pops; k++)
            FpuPop();
    }

    /// <summary>Read the memory operand of an x87 instruction in the format it names, converted to the register format.</summary>
    internal Float80 FpuReadMemory(ref Insn i, int format, ref FloatContext ctx)
    {
        switch (format)
        {
            case FmtF32:
                return Float80Conversions.FromSingle(ref ctx, Read(Linear(ref i, 4, false), 4));
            case FmtF64:
            {
                uint lin = Linear(ref i, 8, false);
                return Float80Conversions.FromDouble(ref ctx, Read(lin, 4) | ((ulong)Read(lin + 4, 4) << 32));
            }

            case FmtF80:
            {
                uint lin = Linear(ref i, 10, false);
                ulong m = Read(lin, 4) | ((ulong)Read(lin + 4, 4) << 32);
                return new Float80((ushort)Read(lin + 8, 2), m);
            }

            case FmtI16:
                return Float80Conversions.FromInt64((short)Read(Linear(ref i, 2, false), 2));
            case FmtI32:
                return Float80Conversions.FromInt64((int)Read(Linear(ref i, 4, false), 4));
            case FmtI64:
            {
                uint lin = Linear(ref i, 8, false);
                return Float80Conversions.FromInt64((long)(Read(lin, 4) | ((ulong)Read(lin + 4, 4) << 32)));
            }

            default:
            {
                uint lin = Linear(ref i, 10, false);
                Span<byte> bcd = stackalloc byte[10];
                for (int k = 0; k < 10; k++)
                    bcd[k] = (byte)Read(lin + (uint)k, 1);
                return Float80Conversions.FromPackedBcd(bcd);
            }
        }
    }

    internal void Write64(uint lin, ulong value)
    {
        Write(lin, 4, (uint)value);
        Write(lin + 4, 4, (uint)(value >> 32));
    }

    internal void WriteFloat80(uint lin, Float80 v)
    {
        Write64(lin, v.Mantissa);
        Write(lin + 8, 2, v.SignExp);
    }

    internal Float80 ReadFloat80(uint lin) => new((ushort)Read(lin + 8, 2), Read(lin, 4) | ((ulong)Read(lin + 4, 4) << 32));

    internal static int MemorySize(int format) => format switch
    {
        FmtF32 or FmtI32 => 4,
        FmtF64 or FmtI64 => 8,
        FmtI16 => 2,
        _ => 10,
    };
}

using System.Globalization;
using Iced.Intel;

namespace MiniHv.Cpu;

/// <summary>
/// Decodes x87 instructions (D8-DF and WAIT) into <see cref="Insn"/>s for the Fpu handlers: the handler and
/// its sub-operation, the ST(i) register in R0, the memory format in Imm2's low byte and the 11-bit FOP
/// (what FSTENV reports as the last opcode) in Imm2's high half.
/// </summary>
internal static unsafe class FpuInsnBuilder
{
    /// <summary>True for the instructions this builder handles (the x87 escape opcodes, WAIT, FXSAVE and FXRSTOR).</summary>
    public static bool IsX87(in Instruction ins)
    {
        if (ins.Mnemonic is Mnemonic.Wait or Mnemonic.Fxsave or Mnemonic.Fxrstor)
            return true;
        var op = ins.Code.ToOpCode();
        uint first = op.OpCodeLength == 2 ? op.OpCode >> 8 : op.OpCode;
        return op.Encoding == EncodingKind.Legacy && op.Table == OpCodeTableKind.Normal && first is >= 0xD8 and <= 0xDF;
    }

    /// <summary>Fill the x87 fields of <paramref name="d"/>; returns false for x87 opcodes a Pentium Pro lacks (they stay #UD).</summary>
    public static bool Select(ref Insn d, in Instruction ins)
    {
        var m = ins.Mnemonic;
        if (m == Mnemonic.Wait)
        {
            d.Exec = &Cpu.FpuWait;
            return true;
        }

        d.Imm2 = (uint)Fop(in ins) << 16;
        int format = Cpu.FmtNone;
        bool memory = ins.OpCount > 0 && ins.GetOpKind(0) == OpKind.Memory;
        if (memory)
            format = Format(ins.MemorySize);
        d.Imm2 |= (uint)format;
        d.R0 = StRegister(in ins);
        d.Imm = 0;

        switch (m)
        {
            case Mnemonic.Fadd or Mnemonic.Fiadd: return Arith(ref d, in ins, Cpu.FAdd, false);
            case Mnemonic.Faddp: return Arith(ref d, in ins, Cpu.FAdd, true);
            case Mnemonic.Fmul or Mnemonic.Fimul: return Arith(ref d, in ins, Cpu.FMul, false);
            case Mnemonic.Fmulp: return Arith(ref d, in ins, Cpu.FMul, true);
            case Mnemonic.Fsub or Mnemonic.Fisub: return Arith(ref d, in ins, Cpu.FSub, false);
            case Mnemonic.Fsubp: return Arith(ref d, in ins, Cpu.FSub, true);
            case Mnemonic.Fsubr or Mnemonic.Fisubr: return Arith(ref d, in ins, Cpu.FSubr, false);
            case Mnemonic.Fsubrp: return Arith(ref d, in ins, Cpu.FSubr, true);
            case Mnemonic.Fdiv or Mnemonic.Fidiv: return Arith(ref d, in ins, Cpu.FDiv, false);
            case Mnemonic.Fdivp: return Arith(ref d, in ins, Cpu.FDiv, true);
            case Mnemonic.Fdivr or Mnemonic.Fidivr: return Arith(ref d, in ins, Cpu.FDivr, false);
            case Mnemonic.Fdivrp: return Arith(ref d, in ins, Cpu.FDivr, true);

            case Mnemonic.Fcom or Mnemonic.Ficom: return Compare(ref d, 0, 0);
            case Mnemonic.Fcomp or Mnemonic.Ficomp: return Compare(ref d, 0, 1);
            case Mnemonic.Fcompp: d.R0 = 1; return Compare(ref d, 0, 2);
            case Mnemonic.Fucom: return Compare(ref d, Cpu.FCmpQuiet, 0);
            case Mnemonic.Fucomp: return Compare(ref d, Cpu.FCmpQuiet, 1);
            case Mnemonic.Fucompp: d.R0 = 1; return Compare(ref d, Cpu.FCmpQuiet, 2);
            case Mnemonic.Fcomi: return Compare(ref d, Cpu.FCmpEflags, 0);
            case Mnemonic.Fcomip: return Compare(ref d, Cpu.FCmpEflags, 1);
            case Mnemonic.Fucomi: return Compare(ref d, Cpu.FCmpEflags | Cpu.FCmpQuiet, 0);
            case Mnemonic.Fucomip: return Compare(ref d, Cpu.FCmpEflags | Cpu.FCmpQuiet, 1);
            case Mnemonic.Ftst: d.R0 = 0xFF; return Compare(ref d, 0, 0);

            case Mnemonic.Fld or Mnemonic.Fild or Mnemonic.Fbld: return Set(ref d, &Cpu.FpuLoad, Cpu.FLoadOperand);
            case Mnemonic.Fld1: return Set(ref d, &Cpu.FpuLoad, Cpu.FLd1);
            case Mnemonic.Fldl2t: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdL2T);
            case Mnemonic.Fldl2e: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdL2E);
            case Mnemonic.Fldpi: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdPi);
            case Mnemonic.Fldlg2: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdLg2);
            case Mnemonic.Fldln2: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdLn2);
            case Mnemonic.Fldz: return Set(ref d, &Cpu.FpuLoad, Cpu.FLdZ);

            case Mnemonic.Fst or Mnemonic.Fist: return Set(ref d, &Cpu.FpuStore, 0);
            case Mnemonic.Fstp or Mnemonic.Fistp or Mnemonic.Fbstp or Mnemonic.Fstpnce:
                d.Imm = Cpu.FPop;
                return Set(ref d, &Cpu.FpuStore, 0);
            case Mnemonic.Fxch: return Set(ref d, &Cpu.FpuExchange, 0);
            case Mnemonic.Fcmovb: return Set(ref d, &Cpu.FpuConditionalMove, 0);
            case Mnemonic.Fcmove: return Set(ref d, &Cpu.FpuConditionalMove, 1);
            case Mnemonic.Fcmovbe: return Set(ref d, &Cpu.FpuConditionalMove, 2);
            case Mnemonic.Fcmovu: return Set(ref d, &Cpu.FpuConditionalMove, 3);
            case Mnemonic.Fcmovnb: return Set(ref d, &Cpu.FpuConditionalMove, 4);
            case Mnemonic.Fcmovne: return Set(ref d, &Cpu.FpuConditionalMove, 5);
            case Mnemonic.Fcmovnbe: return Set(ref d, &Cpu.FpuConditionalMove, 6);
            case Mnemonic.Fcmovnu: return Set(ref d, &Cpu.FpuConditionalMove, 7);

            case Mnemonic.Fchs: return Set(ref d, &Cpu.FpuUnary, Cpu.FChs);
            case Mnemonic.Fabs: return Set(ref d, &Cpu.FpuUnary, Cpu.FAbs);
            case Mnemonic.Fsqrt: return Set(ref d, &Cpu.FpuUnary, Cpu.FSqrt);
            case Mnemonic.Frndint: return Set(ref d, &Cpu.FpuUnary, Cpu.FRndint);
            case Mnemonic.Fxtract: return Set(ref d, &Cpu.FpuUnary, Cpu.FXtract);
            case Mnemonic.Fscale: return Set(ref d, &Cpu.FpuUnary, Cpu.FScale);
            case Mnemonic.Fprem: return Set(ref d, &Cpu.FpuUnary, Cpu.FPrem);
            case Mnemonic.Fprem1: return Set(ref d, &Cpu.FpuUnary, Cpu.FPrem1);
            case Mnemonic.Fxam: return Set(ref d, &Cpu.FpuUnary, Cpu.FXam);
            case Mnemonic.Fsin: return Set(ref d, &Cpu.FpuTrigonometry, Cpu.FSin);
            case Mnemonic.Fcos: return Set(ref d, &Cpu.FpuTrigonometry, Cpu.FCos);
            case Mnemonic.Fsincos: return Set(ref d, &Cpu.FpuTrigonometry, Cpu.FSinCos);
            case Mnemonic.Fptan: return Set(ref d, &Cpu.FpuTrigonometry, Cpu.FPtan);
            case Mnemonic.F2xm1: return Set(ref d, &Cpu.FpuTranscendental, Cpu.F2xm1);
            case Mnemonic.Fyl2x: return Set(ref d, &Cpu.FpuTranscendental, Cpu.FYl2x);
            case Mnemonic.Fyl2xp1: return Set(ref d, &Cpu.FpuTranscendental, Cpu.FYl2xp1);
            case Mnemonic.Fpatan: return Set(ref d, &Cpu.FpuTranscendental, Cpu.FPatan);

            case Mnemonic.Fxsave: return Set(ref d, &Cpu.FpuExtendedState, Cpu.FxSave);
            case Mnemonic.Fxrstor: return Set(ref d, &Cpu.FpuExtendedState, Cpu.FxRstor);

            case Mnemonic.Fldcw: return Set(ref d, &Cpu.FpuControl, Cpu.FLdcw);
            case Mnemonic.Fnstcw: return Set(ref d, &Cpu.FpuControl, Cpu.FStcw);
            case Mnemonic.Fstcw: return Waiting(ref d, Cpu.FStcw);
            case Mnemonic.Fnstsw:
                return Set(ref d, &Cpu.FpuControl, memory ? Cpu.FStswMem : Cpu.FStswAx);
            case Mnemonic.Fstsw: return Waiting(ref d, memory ? Cpu.FStswMem : Cpu.FStswAx);
            case Mnemonic.Fnclex: return Set(ref d, &Cpu.FpuControl, Cpu.FClex);
            case Mnemonic.Fclex: return Waiting(ref d, Cpu.FClex);
            case Mnemonic.Fninit: return Set(ref d, &Cpu.FpuControl, Cpu.FInit);
            case Mnemonic.Finit: return Waiting(ref d, Cpu.FInit);
            case Mnemonic.Fnstenv: return Environment(ref d, in ins, Cpu.FStenv, false);
            case Mnemonic.Fstenv: return Environment(ref d, in ins, Cpu.FStenv, true);
            case Mnemonic.Fldenv: return Environment(ref d, in ins, Cpu.FLdenv, false);
            case Mnemonic.Fnsave: return Environment(ref d, in ins, Cpu.FSave, false);
            case Mnemonic.Fsave: return Environment(ref d, in ins, Cpu.FSave, true);
            case Mnemonic.Frstor: return Environment(ref d, in ins, Cpu.FRstor, false);
            case Mnemonic.Ffree: return Set(ref d, &Cpu.FpuControl, Cpu.FFree);
            case Mnemonic.Ffreep: return Set(ref d, &Cpu.FpuControl, Cpu.FFreep);
            case Mnemonic.Fincstp: return Set(ref d, &Cpu.FpuControl, Cpu.FIncstp);
            case Mnemonic.Fdecstp: return Set(ref d, &Cpu.FpuControl, Cpu.FDecstp);

            // The 8087/287 mode instructions are FNOPs on the 387 and later.
            case Mnemonic.Fnop or Mnemonic.Fneni or Mnemonic.Fndisi or Mnemonic.Fnsetpm or Mnemonic.Feni or Mnemonic.Fdisi
                or Mnemonic.Fsetpm:
                return Set(ref d, &Cpu.FpuControl, Cpu.FNop);
        }

        return false;
    }

    private static bool Set(ref Insn d, delegate*<Cpu, ref Insn, void> exec, byte op)
    {
        d.Exec = exec;
        d.Op = op;
        return true;
    }

    private static bool Arith(ref Insn d, in Instruction ins, byte op, bool pop)
    {
        // Two register operands: "op st(i), st0" writes ST(i); "op st0, st(i)" writes ST(0).
        if (ins.OpCount == 2 && ins.GetOpRegister(0) != Register.ST0)
            d.Imm |= Cpu.FDestSti;
        if (pop)
            d.Imm |= Cpu.FPop;
        return Set(ref d, &Cpu.FpuArith, op);
    }

    private static bool Compare(ref Insn d, byte op, uint pops)
    {
        d.Imm = pops;
        return Set(ref d, &Cpu.FpuCompare, op);
    }

    private static bool Waiting(ref Insn d, byte op)
    {
        d.Imm |= Cpu.FWaitForm;
        return Set(ref d, &Cpu.FpuControl, op);
    }

    /// <summary>FSTENV/FLDENV/FSAVE/FRSTOR: Size 2 selects the 16-bit layout (14-byte environment), 4 the 32-bit one.</summary>
    private static bool Environment(ref Insn d, in Instruction ins, byte op, bool waiting)
    {
        d.Size = (byte)(ins.MemorySize is MemorySize.FpuEnv14 or MemorySize.FpuState94 ? 2 : 4);
        if (waiting)
            d.Imm |= Cpu.FWaitForm;
        return Set(ref d, &Cpu.FpuControl, op);
    }

    /// <summary>The ST(i) operand other than ST(0) (or ST(0) itself when it is the only register).</summary>
    private static byte StRegister(in Instruction ins)
    {
        byte r = 1;
        bool any = false;
        for (int k = 0; k < ins.OpCount; k++)
        {
            if (ins.GetOpKind(k) != OpKind.Register || !ins.GetOpRegister(k).IsST())
                continue;
            byte n = (byte)(ins.GetOpRegister(k) - Register.ST0);
            if (!any || n != 0)
                r = n;
            any = true;
        }

        return r;
    }

    private static int Format(MemorySize size) => size switch
    {
        MemorySize.Float32 => Cpu.FmtF32,
        MemorySize.Float64 => Cpu.FmtF64,
        MemorySize.Float80 => Cpu.FmtF80,
        MemorySize.Int16 => Cpu.FmtI16,
        MemorySize.Int32 => Cpu.FmtI32,
        MemorySize.Int64 => Cpu.FmtI64,
        MemorySize.Bcd => Cpu.FmtBcd,
        _ => Cpu.FmtNone,
    };

    /// <summary>
    /// The FOP: the low three bits of the escape byte and the ModR/M byte. The ModR/M is rebuilt from the
    /// opcode's description ("D8 /4", "D8 E0+i", "D9 E8") and the memory operand's addressing form.
    /// </summary>
    private static ushort Fop(in Instruction ins)
    {
        // Skip the size and wait markers ("o32", "9B"): the escape byte is the first of D8-DF.
        string[] parts = ins.Code.ToOpCode().ToOpCodeString().Split(' ');
        int k = 0;
        int escape = 0;
        while (k < parts.Length && !(int.TryParse(parts[k], NumberStyles.HexNumber, null, out escape) && escape is >= 0xD8 and <= 0xDF))
            k++;
        if (k >= parts.Length)
            return 0;
        string rest = k + 1 < parts.Length ? parts[k + 1] : "";
        int modrm = 0;
        if (rest.Length == 2 && rest[0] == '/')
            modrm = ((rest[1] - '0') << 3) | MemoryModRm(in ins);
        else if (rest.EndsWith("+i", StringComparison.Ordinal) && int.TryParse(rest[..^2], NumberStyles.HexNumber, null, out int baseByte))
            modrm = baseByte + StRegister(in ins);
        else if (int.TryParse(rest, NumberStyles.HexNumber, null, out int fixedByte))
            modrm = fixedByte;
        return (ushort)(((escape & 7) << 8) | (modrm & 0xFF));
    }

    private static int MemoryModRm(in Instruction ins)
    {
        if (ins.OpCount == 0 || ins.GetOpKind(0) != OpKind.Memory)
            return 0;
        var b = ins.MemoryBase;
        var x = ins.MemoryIndex;
        int disp = ins.MemoryDisplSize;
        bool a16 = (b != Register.None && b.GetSize() == 2) || (x != Register.None && x.GetSize() == 2)
            || (b == Register.None && x == Register.None && disp == 2);
        if (a16)
        {
            if (b == Register.None && x == Register.None)
                return 6;
            int rm = (b, x) switch
            {
                (Register.BX, Register.SI) => 0,
                (Register.BX, Register.DI) => 1,
                (Register.BP, Register.SI) => 2,
                (Register.BP, Register.DI) => 3,
                (Register.None, Register.SI) or (Register.SI, Register.None) => 4,
                (Register.None, Register.DI) or (Register.DI, Register.None) => 5,
                (Register.BP, Register.None) => 6,
                _ => 7,
            };
            return (disp == 0 ? 0 : disp == 1 ? 0x40 : 0x80) | rm;
        }

        if (b == Register.None && x == Register.None)
            return 5;
        int mod = disp == 0 ? 0 : disp == 1 ? 0x40 : 0x80;
        if (b == Register.None)
            return 4; // SIB with no base: mod 00
        if (x != Register.None || b == Register.ESP)
            return mod | 4;
        return mod | b.GetNumber();
    }
}

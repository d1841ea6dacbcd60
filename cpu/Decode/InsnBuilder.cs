using Iced.Intel;

namespace MiniHv.Cpu;

/// <summary>
/// Turns one Iced <see cref="Instruction"/> into an <see cref="Insn"/>: picks the handler (a
/// specialised one for the common 32-bit register forms, a general one otherwise) and
/// precomputes registers, the memory operand, immediates and sizes.
/// </summary>
internal static unsafe class InsnBuilder
{
    /// <summary>Fill <paramref name="d"/>; returns true when the instruction must end its block.</summary>
    public static bool Build(ref Insn d, in Instruction ins, bool decodeError)
    {
        d.Base = (byte)Cpu.NoReg;
        d.Index = (byte)Cpu.NoReg;
        d.Seg = (byte)SegReg.DS;
        d.Exec = &Cpu.Undefined;
        if (decodeError || ins.IsInvalid)
            return true;

        // x87 instructions have handlers of their own; the ones a Pentium Pro lacks stay #UD.
        if (FpuInsnBuilder.IsX87(in ins))
        {
            Operands(ref d, in ins);
            return !FpuInsnBuilder.Select(ref d, in ins) || ins.FlowControl != FlowControl.Next;
        }

        if (UsesFpuOrVectorRegisters(in ins))
            return true;

        // LOCK is valid only on a read-modify-write of memory; anywhere else the processor raises #UD.
        if (ins.HasLockPrefix && !IsLockable(in ins))
            return true;

        Operands(ref d, in ins);
        if (ins.HasRepePrefix || ins.HasRepPrefix)
            d.Prefix |= Cpu.PrefixRep;
        if (ins.HasRepnePrefix)
            d.Prefix |= Cpu.PrefixRepne;
        if (ins.HasLockPrefix)
            d.Prefix |= Cpu.PrefixLock;

        bool ends = ins.FlowControl != FlowControl.Next;
        ends |= Select(ref d, in ins);
        if (ins.HasLockPrefix || (ins.Mnemonic == Mnemonic.Xchg && (d.Form & Cpu.FormOp0Mem) != 0))
            SelectLocked(ref d, in ins);
        return ends;
    }

    /// <summary>A locked read-modify-write of memory (XCHG with memory is locked without the prefix) gets its atomic handler.</summary>
    private static void SelectLocked(ref Insn d, in Instruction ins)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Add or Mnemonic.Or or Mnemonic.Adc or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Sub or Mnemonic.Xor:
                d.Exec = &Cpu.LockedAlu;
                break;
            case Mnemonic.Inc or Mnemonic.Dec: d.Exec = &Cpu.LockedIncDec; break;
            case Mnemonic.Neg: d.Exec = &Cpu.LockedNeg; break;
            case Mnemonic.Not: d.Exec = &Cpu.LockedNot; break;
            case Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc: d.Exec = &Cpu.LockedBitTest; break;
            case Mnemonic.Xchg: d.Exec = &Cpu.LockedXchg; break;
            case Mnemonic.Cmpxchg: d.Exec = &Cpu.LockedCmpxchg; break;
            case Mnemonic.Cmpxchg8b: d.Exec = &Cpu.LockedCmpxchg8b; break;
            case Mnemonic.Xadd: d.Exec = &Cpu.LockedXadd; break;
        }
    }

    private static bool UsesFpuOrVectorRegisters(in Instruction ins)
    {
        for (int k = 0; k < ins.OpCount; k++)
        {
            if (ins.GetOpKind(k) != OpKind.Register)
                continue;
            var r = ins.GetOpRegister(k);
            if (r.IsXMM() || r.IsYMM() || r.IsZMM() || r.IsMM() || r.IsST() || r.IsK() || r.IsBND() || r.IsTMM())
                return true;
        }

        return false;
    }

    private static bool IsLockable(in Instruction ins) => ins.OpCount > 0 && ins.GetOpKind(0) == OpKind.Memory
        && ins.Mnemonic is Mnemonic.Add or Mnemonic.Adc or Mnemonic.And or Mnemonic.Btc or Mnemonic.Btr or Mnemonic.Bts
            or Mnemonic.Cmpxchg or Mnemonic.Cmpxchg8b or Mnemonic.Dec or Mnemonic.Inc or Mnemonic.Neg or Mnemonic.Not
            or Mnemonic.Or or Mnemonic.Sbb or Mnemonic.Sub or Mnemonic.Xor or Mnemonic.Xadd or Mnemonic.Xchg;

    private static byte Num(Register r) => (byte)r.GetNumber();

    private static void Operands(ref Insn d, in Instruction ins)
    {
        int n = Math.Min(ins.OpCount, 3);
        for (int k = 0; k < n; k++)
        {
            switch (ins.GetOpKind(k))
            {
                case OpKind.Register:
                {
                    var r = ins.GetOpRegister(k);
                    if (k == 0)
                    {
                        d.R0 = Num(r);
                        d.Size = (byte)Math.Clamp(r.GetSize(), 1, 4);
                    }
                    else if (k == 1)
                    {
                        d.R1 = Num(r);
                        if (d.Size == 0)
                            d.Size = (byte)Math.Clamp(r.GetSize(), 1, 4);
                    }

                    break;
                }

                case OpKind.Memory:
                    d.Form |= k == 0 ? Cpu.FormOp0Mem : Cpu.FormOp1Mem;
                    MemoryOperand(ref d, in ins);
                    if (k == 0)
                        d.Size = (byte)Math.Clamp(ins.MemorySize.GetSize(), 1, 4);
                    break;
                case OpKind.Immediate8:
                case OpKind.Immediate16:
                case OpKind.Immediate32:
                case OpKind.Immediate8to16:
                case OpKind.Immediate8to32:
                {
                    uint value = (uint)ins.GetImmediate(k);
                    if (k == 2)
                    {
                        d.Form |= Cpu.FormOp2Imm;
                        d.Imm2 = value;
                    }
                    else
                    {
                        d.Form |= Cpu.FormOp1Imm;
                        d.Imm = value;
                    }

                    break;
                }
            }
        }

        if (d.Size == 0)
            d.Size = 4;
        if (d.Size == 4 || (d.Form & Cpu.FormOp1Imm) == 0)
            return;
        d.Imm &= Cpu.SizeMask(d.Size);
    }

    private static void MemoryOperand(ref Insn d, in Instruction ins)
    {
        var b = ins.MemoryBase;
        var x = ins.MemoryIndex;
        d.Base = b == Register.None ? (byte)Cpu.NoReg : Num(b);
        d.Index = x == Register.None ? (byte)Cpu.NoReg : Num(x);
        d.Scale = ins.MemoryIndexScale switch { 2 => 1, 4 => 2, 8 => 3, _ => 0 };
        d.Disp = (uint)ins.MemoryDisplacement64;
        d.Seg = SegNum(ins.MemorySegment);
        d.Addr16 = (b != Register.None && b.GetSize() == 2) || (x != Register.None && x.GetSize() == 2)
            || (b == Register.None && x == Register.None && ins.MemoryDisplSize == 2);
        if (d.Addr16)
            d.Disp &= 0xFFFF;
    }

    private static byte SegNum(Register r) => r switch
    {
        Register.ES => (byte)SegReg.ES,
        Register.CS => (byte)SegReg.CS,
        Register.SS => (byte)SegReg.SS,
        Register.FS => (byte)SegReg.FS,
        Register.GS => (byte)SegReg.GS,
        _ => (byte)SegReg.DS,
    };

    private static bool IsReg32(in Instruction ins, int k) => ins.GetOpKind(k) == OpKind.Register && ins.GetOpRegister(k).IsGPR32();

    private static bool IsImm(in Instruction ins, int k) => ins.GetOpKind(k) is OpKind.Immediate8 or OpKind.Immediate16
        or OpKind.Immediate32 or OpKind.Immediate8to16 or OpKind.Immediate8to32;

    /// <summary>Choose the handler; returns true when it changes state the block was decoded under.</summary>
    private static bool Select(ref Insn d, in Instruction ins)
    {
        var m = ins.Mnemonic;
        switch (m)
        {
            case Mnemonic.Add: return Alu(ref d, in ins, Cpu.AluAdd);
            case Mnemonic.Or: return Alu(ref d, in ins, Cpu.AluOr);
            case Mnemonic.Adc: return Alu(ref d, in ins, Cpu.AluAdc);
            case Mnemonic.Sbb: return Alu(ref d, in ins, Cpu.AluSbb);
            case Mnemonic.And: return Alu(ref d, in ins, Cpu.AluAnd);
            case Mnemonic.Sub: return Alu(ref d, in ins, Cpu.AluSub);
            case Mnemonic.Xor: return Alu(ref d, in ins, Cpu.AluXor);
            case Mnemonic.Cmp: return Alu(ref d, in ins, Cpu.AluCmp);
            case Mnemonic.Test:
                d.Exec = IsReg32(in ins, 0) && IsReg32(in ins, 1) ? &Cpu.TestRR32
                    : IsReg32(in ins, 0) && IsImm(in ins, 1) ? &Cpu.TestRI32 : &Cpu.TestGeneric;
                return false;
            case Mnemonic.Inc:
            case Mnemonic.Dec:
                d.Op = (byte)(m == Mnemonic.Dec ? 1 : 0);
                d.Exec = IsReg32(in ins, 0) ? (m == Mnemonic.Inc ? &Cpu.IncR32 : &Cpu.DecR32) : &Cpu.IncDecGeneric;
                return false;
            case Mnemonic.Neg: d.Exec = &Cpu.Neg; return false;
            case Mnemonic.Not: d.Exec = &Cpu.Not; return false;
            case Mnemonic.Mov: return Mov(ref d, in ins);
            case Mnemonic.Movzx:
            case Mnemonic.Movsx:
                d.Op = (byte)(m == Mnemonic.Movsx ? 1 : 0);
                d.Imm2 = (uint)((d.Form & Cpu.FormOp1Mem) != 0 ? ins.MemorySize.GetSize() : ins.GetOpRegister(1).GetSize());
                d.Exec = m == Mnemonic.Movzx && d.Size == 4 && d.Imm2 == 1 && (d.Form & Cpu.FormOp1Mem) != 0
                    ? &Cpu.MovzxRM8_32 : &Cpu.MovExtend;
                return false;
            case Mnemonic.Lea:
                d.Exec = d.Size == 4 ? &Cpu.Lea32 : &Cpu.LeaGeneric;
                return false;
            case Mnemonic.Xchg:
                if ((d.Form & Cpu.FormOp1Mem) != 0)
                {
                    // xchg reg, [mem] is the same operation as xchg [mem], reg.
                    d.Form = Cpu.FormOp0Mem;
                    d.R1 = d.R0;
                }

                d.Exec = &Cpu.Xchg;
                return false;
            case Mnemonic.Cmpxchg: d.Exec = &Cpu.Cmpxchg; return false;
            case Mnemonic.Cmpxchg8b: d.Exec = &Cpu.Cmpxchg8b; return false;
            case Mnemonic.Xadd: d.Exec = &Cpu.Xadd; return false;
            case Mnemonic.Bswap: d.Exec = &Cpu.Bswap; return false;
            case Mnemonic.Cbw: Set(ref d, &Cpu.ConvertAcc, 0, 2); return false;
            case Mnemonic.Cwde: Set(ref d, &Cpu.ConvertAcc, 0, 4); return false;
            case Mnemonic.Cwd: Set(ref d, &Cpu.ConvertAcc, 1, 2); return false;
            case Mnemonic.Cdq: Set(ref d, &Cpu.ConvertAcc, 1, 4); return false;
            case Mnemonic.Lahf: d.Exec = &Cpu.Lahf; return false;
            case Mnemonic.Sahf: d.Exec = &Cpu.Sahf; return false;
            case Mnemonic.Xlatb:
                d.Seg = SegNum(ins.MemorySegment);
                d.Addr16 = ins.MemoryBase == Register.BX;
                d.Exec = &Cpu.Xlat;
                return false;
            case Mnemonic.Nop:
            case Mnemonic.Endbr32:
                d.Exec = &Cpu.Nop;
                return false;
            case Mnemonic.Pause:
                d.Exec = &Cpu.Pause;
                return false;
            case Mnemonic.Push: return Push(ref d, in ins);
            case Mnemonic.Pop: return Pop(ref d, in ins);
            case Mnemonic.Pushad: Set(ref d, &Cpu.Pusha, 0, 4); return false;
            case Mnemonic.Pusha: Set(ref d, &Cpu.Pusha, 0, 2); return false;
            case Mnemonic.Popad: Set(ref d, &Cpu.Popa, 0, 4); return false;
            case Mnemonic.Popa: Set(ref d, &Cpu.Popa, 0, 2); return false;
            case Mnemonic.Pushfd: Set(ref d, &Cpu.Pushf, 0, 4); return false;
            case Mnemonic.Pushf: Set(ref d, &Cpu.Pushf, 0, 2); return false;
            case Mnemonic.Popfd: Set(ref d, &Cpu.Popf, 0, 4); return true;
            case Mnemonic.Popf: Set(ref d, &Cpu.Popf, 0, 2); return true;
            case Mnemonic.Leave:
                Set(ref d, &Cpu.Leave, 0, ins.Code == Code.Leavew ? 2 : 4);
                return false;
            case Mnemonic.Enter:
                d.Imm = ins.Immediate16;
                d.Imm2 = ins.Immediate8_2nd;
                Set(ref d, &Cpu.Enter, 0, ins.Code == Code.Enterw_imm16_imm8 ? 2 : 4);
                return false;

            case Mnemonic.Rol: return Shift(ref d, in ins, Cpu.ShRol);
            case Mnemonic.Ror: return Shift(ref d, in ins, Cpu.ShRor);
            case Mnemonic.Rcl: return Shift(ref d, in ins, Cpu.ShRcl);
            case Mnemonic.Rcr: return Shift(ref d, in ins, Cpu.ShRcr);
            case Mnemonic.Shl: return Shift(ref d, in ins, Cpu.ShShl);
            case Mnemonic.Sal: return Shift(ref d, in ins, Cpu.ShSal);
            case Mnemonic.Shr: return Shift(ref d, in ins, Cpu.ShShr);
            case Mnemonic.Sar: return Shift(ref d, in ins, Cpu.ShSar);
            case Mnemonic.Shld: d.Op = 0; d.Exec = &Cpu.DoubleShift; return false;
            case Mnemonic.Shrd: d.Op = 1; d.Exec = &Cpu.DoubleShift; return false;
            case Mnemonic.Bt: d.Op = 0; d.Exec = &Cpu.BitTest; return false;
            case Mnemonic.Bts: d.Op = 1; d.Exec = &Cpu.BitTest; return false;
            case Mnemonic.Btr: d.Op = 2; d.Exec = &Cpu.BitTest; return false;
            case Mnemonic.Btc: d.Op = 3; d.Exec = &Cpu.BitTest; return false;
            // Without BMI1 and LZCNT (CPUID has neither), F3 0F BC/BD run as BSF/BSR: gcc emits "rep bsf".
            case Mnemonic.Bsf:
            case Mnemonic.Tzcnt:
                d.Op = 0;
                d.Exec = &Cpu.BitScan;
                return false;
            case Mnemonic.Bsr:
            case Mnemonic.Lzcnt:
                d.Op = 1;
                d.Exec = &Cpu.BitScan;
                return false;

            case Mnemonic.Mul: d.Op = 0; d.Exec = &Cpu.MulAcc; return false;
            case Mnemonic.Imul:
                if (ins.OpCount == 1)
                {
                    d.Op = 1;
                    d.Exec = &Cpu.MulAcc;
                }
                else
                {
                    d.Exec = &Cpu.ImulGeneric;
                }

                return false;
            case Mnemonic.Div: d.Op = 0; d.Exec = &Cpu.DivAcc; return false;
            case Mnemonic.Idiv: d.Op = 1; d.Exec = &Cpu.DivAcc; return false;
            case Mnemonic.Daa: d.Op = 0; d.Exec = &Cpu.Bcd; return false;
            case Mnemonic.Das: d.Op = 1; d.Exec = &Cpu.Bcd; return false;
            case Mnemonic.Aaa: d.Op = 2; d.Exec = &Cpu.Bcd; return false;
            case Mnemonic.Aas: d.Op = 3; d.Exec = &Cpu.Bcd; return false;
            case Mnemonic.Aam: d.Op = 4; d.Imm = ins.Immediate8; d.Exec = &Cpu.Bcd; return false;
            case Mnemonic.Aad: d.Op = 5; d.Imm = ins.Immediate8; d.Exec = &Cpu.Bcd; return false;

            case Mnemonic.Jmp: return Jump(ref d, in ins, call: false);
            case Mnemonic.Call: return Jump(ref d, in ins, call: true);
            case Mnemonic.Ret:
                d.Imm = ins.OpCount > 0 ? ins.Immediate16 : 0u;
                d.Size = (byte)(ins.Code is Code.Retnw or Code.Retnw_imm16 ? 2 : 4);
                d.Exec = d.Size == 4 && d.Imm == 0 ? &Cpu.Ret32 : &Cpu.Ret;
                return true;
            case Mnemonic.Retf:
                d.Imm = ins.OpCount > 0 ? ins.Immediate16 : 0u;
                d.Size = (byte)(ins.Code is Code.Retfw or Code.Retfw_imm16 ? 2 : 4);
                d.Exec = &Cpu.RetFar;
                return true;
            case Mnemonic.Iret: Set(ref d, &Cpu.Iret, 0, 2); return true;
            case Mnemonic.Iretd: Set(ref d, &Cpu.Iret, 0, 4); return true;
            case Mnemonic.Loop: return Loop(ref d, in ins, 0);
            case Mnemonic.Loope: return Loop(ref d, in ins, 1);
            case Mnemonic.Loopne: return Loop(ref d, in ins, 2);
            case Mnemonic.Jecxz:
            case Mnemonic.Jcxz:
                return Loop(ref d, in ins, 3);
            case Mnemonic.Int: d.Imm = ins.Immediate8; d.Exec = &Cpu.IntN; return true;
            case Mnemonic.Int3: d.Exec = &Cpu.Int3; return true;
            case Mnemonic.Int1: d.Exec = &Cpu.Int1; return true;
            case Mnemonic.Into: d.Exec = &Cpu.Into; return true;
            case Mnemonic.Bound: d.Exec = &Cpu.Bound; return false;
            case Mnemonic.Hlt: d.Exec = &Cpu.Hlt; return true;

            case Mnemonic.Clc: Set(ref d, &Cpu.FlagOpInsn, 0, 4); return false;
            case Mnemonic.Stc: Set(ref d, &Cpu.FlagOpInsn, 1, 4); return false;
            case Mnemonic.Cmc: Set(ref d, &Cpu.FlagOpInsn, 2, 4); return false;
            case Mnemonic.Cld: Set(ref d, &Cpu.FlagOpInsn, 3, 4); return false;
            case Mnemonic.Std: Set(ref d, &Cpu.FlagOpInsn, 4, 4); return false;
            case Mnemonic.Cli: Set(ref d, &Cpu.FlagOpInsn, 5, 4); return false;
            case Mnemonic.Sti: Set(ref d, &Cpu.FlagOpInsn, 6, 4); return true;

            case Mnemonic.In:
                d.Size = (byte)ins.GetOpRegister(0).GetSize();
                d.Exec = &Cpu.In;
                return false;
            case Mnemonic.Out:
                d.Size = (byte)ins.GetOpRegister(1).GetSize();
                if (IsImm(in ins, 0))
                {
                    d.Form = Cpu.FormOp1Imm;
                    d.Imm = ins.Immediate8;
                }
                else
                {
                    d.Form = 0;
                }

                d.Exec = &Cpu.Out;
                return false;

            case Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd:
                return StringOp(ref d, in ins, Cpu.StrMovs);
            case Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd:
                return StringOp(ref d, in ins, Cpu.StrStos);
            case Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd:
                return StringOp(ref d, in ins, Cpu.StrLods);
            case Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd:
                return StringOp(ref d, in ins, Cpu.StrCmps);
            case Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd:
                return StringOp(ref d, in ins, Cpu.StrScas);
            case Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd:
                return StringOp(ref d, in ins, Cpu.StrIns);
            case Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd:
                return StringOp(ref d, in ins, Cpu.StrOuts);

            // With a 16-bit operand size LGDT and LIDT take a 24-bit base (the form real-mode boot code uses).
            case Mnemonic.Lgdt:
                Set(ref d, &Cpu.DescriptorTableOp, 0, ins.Code == Code.Lgdt_m1632_16 ? 2 : 4);
                return true;
            case Mnemonic.Lidt:
                Set(ref d, &Cpu.DescriptorTableOp, 1, ins.Code == Code.Lidt_m1632_16 ? 2 : 4);
                return true;
            case Mnemonic.Sgdt: d.Op = 2; d.Exec = &Cpu.DescriptorTableOp; return false;
            case Mnemonic.Sidt: d.Op = 3; d.Exec = &Cpu.DescriptorTableOp; return false;
            case Mnemonic.Lldt: d.Op = 0; d.Exec = &Cpu.SystemSegmentOp; return true;
            case Mnemonic.Ltr: d.Op = 1; d.Exec = &Cpu.SystemSegmentOp; return true;
            case Mnemonic.Sldt: d.Op = 2; d.Exec = &Cpu.SystemSegmentOp; return false;
            case Mnemonic.Str: d.Op = 3; d.Exec = &Cpu.SystemSegmentOp; return false;
            case Mnemonic.Invlpg: d.Exec = &Cpu.Invlpg; return true;
            case Mnemonic.Clts: d.Exec = &Cpu.Clts; return true;
            case Mnemonic.Wbinvd:
            case Mnemonic.Invd:
                d.Exec = &Cpu.PrivilegedNop;
                return false;
            case Mnemonic.Lmsw: d.Exec = &Cpu.Lmsw; return true;
            case Mnemonic.Smsw: d.Exec = &Cpu.Smsw; return false;
            case Mnemonic.Cpuid: d.Exec = &Cpu.Cpuid; return false;
            // The retired-instruction count is brought up to date at block ends: two reads in one block would agree.
            case Mnemonic.Rdtsc: d.Exec = &Cpu.Rdtsc; return true;
            case Mnemonic.Rdmsr: d.Op = 0; d.Exec = &Cpu.Msr; return true;
            case Mnemonic.Wrmsr: d.Op = 1; d.Exec = &Cpu.Msr; return true;
            case Mnemonic.Lds: return FarPointer(ref d, SegReg.DS);
            case Mnemonic.Les: return FarPointer(ref d, SegReg.ES);
            case Mnemonic.Lfs: return FarPointer(ref d, SegReg.FS);
            case Mnemonic.Lgs: return FarPointer(ref d, SegReg.GS);
            case Mnemonic.Lss: return FarPointer(ref d, SegReg.SS);
            case Mnemonic.Arpl: d.Size = 2; d.Exec = &Cpu.Arpl; return false;
            case Mnemonic.Lar: d.Op = 0; d.Exec = &Cpu.LoadAccessOrLimit; return false;
            case Mnemonic.Lsl: d.Op = 1; d.Exec = &Cpu.LoadAccessOrLimit; return false;
            case Mnemonic.Verr: d.Op = 0; d.Size = 2; d.Exec = &Cpu.VerifySegment; return false;
            case Mnemonic.Verw: d.Op = 1; d.Size = 2; d.Exec = &Cpu.VerifySegment; return false;
        }

        if (ins.IsJccShortOrNear)
        {
            d.Op = (byte)((int)ins.ConditionCode - 1);
            BranchTarget(ref d, in ins);
            d.Exec = &Cpu.Jcc;
            return true;
        }

        if (ins.ConditionCode != ConditionCode.None)
        {
            d.Op = (byte)((int)ins.ConditionCode - 1);
            string name = m.ToString();
            if (name.StartsWith("Set", StringComparison.Ordinal))
            {
                d.Size = 1;
                d.Exec = &Cpu.Setcc;
            }
            else if (name.StartsWith("Cmov", StringComparison.Ordinal))
            {
                d.Exec = &Cpu.Cmovcc;
            }
        }

        return false;
    }

    private static void Set(ref Insn d, delegate*<Cpu, ref Insn, void> exec, byte op, int size)
    {
        d.Exec = exec;
        d.Op = op;
        d.Size = (byte)size;
    }

    private static bool Alu(ref Insn d, in Instruction ins, byte op)
    {
        d.Op = op;
        d.Exec = &Cpu.AluGeneric;
        bool mem0 = (d.Form & Cpu.FormOp0Mem) != 0;
        if (mem0)
        {
            // Memory destination: the common compare and add forms have their own handlers.
            if (op == Cpu.AluCmp && IsImm(in ins, 1))
                d.Exec = &Cpu.CmpMI32;
            else if (d.Size == 4 && op == Cpu.AluCmp && IsReg32(in ins, 1))
                d.Exec = &Cpu.CmpMR32;
            else if (d.Size == 4 && op == Cpu.AluAdd && IsReg32(in ins, 1))
                d.Exec = &Cpu.AddMR32;
            else if (d.Size == 4 && op == Cpu.AluAdd && IsImm(in ins, 1))
                d.Exec = &Cpu.AddMI32;
            return false;
        }

        if (!IsReg32(in ins, 0))
            return false;
        if (IsReg32(in ins, 1))
        {
            d.Exec = op switch
            {
                Cpu.AluCmp => &Cpu.CmpRR32,
                Cpu.AluXor => &Cpu.XorRR32,
                Cpu.AluAdd => &Cpu.AddRR32,
                Cpu.AluSub => &Cpu.SubRR32,
                Cpu.AluAnd => &Cpu.AndRR32,
                Cpu.AluOr => &Cpu.OrRR32,
                _ => &Cpu.AluRR32,
            };
        }
        else if (IsImm(in ins, 1))
        {
            d.Exec = op switch
            {
                Cpu.AluCmp => &Cpu.CmpRI32,
                Cpu.AluAdd => &Cpu.AddRI32,
                Cpu.AluSub => &Cpu.SubRI32,
                Cpu.AluAnd => &Cpu.AndRI32,
                Cpu.AluOr => &Cpu.OrRI32,
                Cpu.AluXor => &Cpu.XorRI32,
                _ => &Cpu.AluRI32,
            };
        }
        else if ((d.Form & Cpu.FormOp1Mem) != 0)
        {
            d.Exec = op switch
            {
                Cpu.AluCmp => &Cpu.CmpRM32,
                Cpu.AluAdd => &Cpu.AddRM32,
                _ => &Cpu.AluRM32,
            };
        }

        return false;
    }

    private static bool Mov(ref Insn d, in Instruction ins)
    {
        var k0 = ins.GetOpKind(0);
        var k1 = ins.GetOpKind(1);
        if (k0 == OpKind.Register)
        {
            var r0 = ins.GetOpRegister(0);
            if (r0.IsSegmentRegister())
            {
                d.R0 = SegNum(r0);
                d.Exec = &Cpu.MovToSeg;
                return true;
            }

            if (r0.IsCR())
            {
                d.Op = (byte)(r0 - Register.CR0);
                d.Exec = &Cpu.MovToCr;
                return true;
            }

            if (r0.IsDR())
            {
                d.Op = (byte)(r0 - Register.DR0);
                d.Exec = &Cpu.MovToDr;
                return true;
            }
        }

        if (k1 == OpKind.Register)
        {
            var r1 = ins.GetOpRegister(1);
            if (r1.IsSegmentRegister())
            {
                d.R1 = SegNum(r1);
                if (k0 == OpKind.Memory)
                    d.Size = 2;
                d.Exec = &Cpu.MovFromSeg;
                return false;
            }

            if (r1.IsCR())
            {
                d.Op = (byte)(r1 - Register.CR0);
                d.Exec = &Cpu.MovFromCr;
                return false;
            }

            if (r1.IsDR())
            {
                d.Op = (byte)(r1 - Register.DR0);
                d.Exec = &Cpu.MovFromDr;
                return false;
            }
        }

        d.Exec = &Cpu.MovGeneric;
        if (d.Size != 4 || d.Addr16)
            return false;
        if (IsReg32(in ins, 0))
        {
            if (IsReg32(in ins, 1))
                d.Exec = &Cpu.MovRR32;
            else if (IsImm(in ins, 1))
                d.Exec = &Cpu.MovRI32;
            else if (k1 == OpKind.Memory)
                d.Exec = &Cpu.MovRM32;
        }
        else if (k0 == OpKind.Memory)
        {
            if (IsReg32(in ins, 1))
                d.Exec = &Cpu.MovMR32;
            else if (IsImm(in ins, 1))
                d.Exec = &Cpu.MovMI32;
        }

        return false;
    }

    private static bool Push(ref Insn d, in Instruction ins)
    {
        d.Size = (byte)(-ins.StackPointerIncrement);
        var k = ins.GetOpKind(0);
        if (k == OpKind.Register)
        {
            var r = ins.GetOpRegister(0);
            if (r.IsSegmentRegister())
            {
                d.R0 = SegNum(r);
                d.Exec = &Cpu.PushSeg;
                return false;
            }

            d.Exec = d.Size == 4 ? &Cpu.PushR32 : &Cpu.PushGeneric;
            return false;
        }

        if (IsImm(in ins, 0))
        {
            d.Form = Cpu.FormOp1Imm;
            d.Imm = (uint)ins.GetImmediate(0);
            if (d.Size == 2)
                d.Imm &= 0xFFFF;
            d.Exec = d.Size == 4 ? &Cpu.PushI32 : &Cpu.PushGeneric;
            return false;
        }

        d.Exec = &Cpu.PushGeneric;
        return false;
    }

    private static bool Pop(ref Insn d, in Instruction ins)
    {
        d.Size = (byte)ins.StackPointerIncrement;
        if (ins.GetOpKind(0) == OpKind.Register)
        {
            var r = ins.GetOpRegister(0);
            if (r.IsSegmentRegister())
            {
                d.R0 = SegNum(r);
                d.Exec = &Cpu.PopSeg;
                return true;
            }

            d.Exec = d.Size == 4 ? &Cpu.PopR32 : &Cpu.PopGeneric;
            return false;
        }

        d.Exec = &Cpu.PopGeneric;
        return false;
    }

    private static bool Shift(ref Insn d, in Instruction ins, byte op)
    {
        d.Op = op;
        d.Exec = &Cpu.ShiftGeneric;
        if (IsReg32(in ins, 0) && IsImm(in ins, 1) && (d.Imm & 0x1F) != 0 && d.Imm < 32)
        {
            if (op is Cpu.ShShl or Cpu.ShSal)
                d.Exec = &Cpu.ShlRI32;
            else if (op == Cpu.ShShr)
                d.Exec = &Cpu.ShrRI32;
            else if (op == Cpu.ShSar)
                d.Exec = &Cpu.SarRI32;
        }

        return false;
    }

    private static void BranchTarget(ref Insn d, in Instruction ins)
    {
        var k = ins.GetOpKind(0);
        d.Size = (byte)(k == OpKind.NearBranch16 ? 2 : 4);
        d.Imm = (uint)(ins.NearBranchTarget - ins.NextIP);
    }

    private static bool Jump(ref Insn d, in Instruction ins, bool call)
    {
        var k = ins.GetOpKind(0);
        if (k is OpKind.NearBranch32 or OpKind.NearBranch16)
        {
            BranchTarget(ref d, in ins);
            d.Exec = call ? &Cpu.CallRel : &Cpu.JmpRel;
            return true;
        }

        if (k is OpKind.FarBranch32 or OpKind.FarBranch16)
        {
            d.Op = (byte)(call ? 1 : 0);
            d.Imm = k == OpKind.FarBranch32 ? ins.FarBranch32 : ins.FarBranch16;
            d.Imm2 = ins.FarBranchSelector;
            d.Size = (byte)(k == OpKind.FarBranch32 ? 4 : 2);
            d.Exec = &Cpu.FarDirect;
            return true;
        }

        if (k == OpKind.Memory && ins.MemorySize is MemorySize.SegPtr32 or MemorySize.SegPtr16)
        {
            d.Op = (byte)(call ? 1 : 0);
            d.Size = (byte)(ins.MemorySize == MemorySize.SegPtr32 ? 4 : 2);
            d.Exec = &Cpu.FarIndirect;
            return true;
        }

        d.Exec = call ? &Cpu.CallIndirect : &Cpu.JmpIndirect;
        return true;
    }

    private static bool Loop(ref Insn d, in Instruction ins, byte op)
    {
        d.Op = op;
        BranchTarget(ref d, in ins);
        string code = ins.Code.ToString();
        d.Addr16 = code.Contains("_CX", StringComparison.Ordinal) || ins.Code == Code.Jcxz_rel8_16 || ins.Code == Code.Jcxz_rel8_32;
        d.Size = (byte)(code.Contains("_16", StringComparison.Ordinal) ? 2 : 4);
        d.Exec = &Cpu.Loop;
        return true;
    }

    private static bool StringOp(ref Insn d, in Instruction ins, byte op)
    {
        // Movsd and Cmpsd are also SSE mnemonics; the string forms have string operands.
        bool isString = false;
        bool a16 = false;
        for (int k = 0; k < ins.OpCount; k++)
        {
            var kind = ins.GetOpKind(k);
            if (kind is OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemoryESDI or OpKind.MemoryESEDI)
                isString = true;
            if (kind is OpKind.MemorySegSI or OpKind.MemoryESDI)
                a16 = true;
        }

        if (!isString)
        {
            d.Exec = &Cpu.Undefined;
            return true;
        }

        string name = ins.Mnemonic.ToString();
        d.Size = name[^1] switch { 'b' => 1, 'w' => 2, _ => 4 };
        d.Op = op;
        d.Addr16 = a16;
        d.Seg = SegNum(ins.MemorySegment);
        d.Form = 0;
        d.Exec = &Cpu.StringOp;
        return false;
    }

    private static bool FarPointer(ref Insn d, SegReg seg)
    {
        d.Op = (byte)seg;
        d.Exec = &Cpu.LoadFarPointer;
        return true;
    }
}

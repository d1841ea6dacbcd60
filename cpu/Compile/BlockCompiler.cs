using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>
/// Translates the longest prefix of a 32-bit block made of instructions it knows into one DynamicMethod.
/// Guest registers live in IL locals; the lazy-flag record of the last flag-setting instruction lives in locals
/// too, with its kind known while compiling, so a compare and the branch after it become one host compare.
/// Everything is written back to the CPU at each exit and before each call that may fault or look at the
/// state (a TLB miss), and nothing of an instruction is written before its last access that may fault: a fault
/// unwinds from the slow path with the CPU exactly as the interpreter leaves it, and the interpreter's own
/// fault path (<see cref="Cpu"/>'s ExecuteBlocks) finds the instruction from <c>_executing</c>.
/// An instruction's flag record is not made at all when nothing reads it before the next full record (dead-flag
/// elimination; every exit and every call that may fault counts as a reader), and a shift's flags, which mix its
/// CF/OF with the record before it, are made by the interpreter's own Shift only where they are read.
/// </summary>
internal static unsafe class BlockCompiler
{
    private enum Kind
    {
        None,
        Nop,
        MovRR, MovRI, MovRM, MovMR, MovMI, Lea,
        AddRR, SubRR, AndRR, OrRR, XorRR, CmpRR, TestRR,
        AddRI, SubRI, AndRI, OrRI, XorRI, CmpRI, TestRI,
        AddRM, CmpRM, AluRM, CmpMR, CmpMI, AddMR, AddMI,
        Inc, Dec,
        PushR, PushI, PopR,
        Jcc, Jmp, Call, Ret, Loop,

        // A conditional branch in the middle of its block (the decoder's JccSideExit): when taken, the block ends
        // there, at the branch's target, as the interpreter's JccSideExit ends it; when not, the block goes on.
        SideExit,

        // SHL/SHR/SAR/ROL/ROR of a 32-bit register by an immediate: the result in IL; the flags, which mix the new
        // CF/OF with the older record, made by the interpreter's own Shift only where something reads them.
        ShiftRI,

        // Any other instruction that does not end its block: a call to the interpreter's own handler, with the
        // state written back before and read again after, so the compiled code around it stays compiled.
        Helper,
    }

    private static readonly Type CpuType = typeof(Cpu);
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly FieldInfo FR = CpuType.GetField(nameof(Cpu.R), Any)!;
    private static readonly FieldInfo FSegBase = CpuType.GetField(nameof(Cpu.SegBase), Any)!;
    private static readonly FieldInfo FChecked = CpuType.GetField(nameof(Cpu.CheckedSegments), Any)!;
    private static readonly FieldInfo FFlatStack = CpuType.GetField(nameof(Cpu.FlatStack32), Any)!;
    private static readonly FieldInfo FTlbRead = CpuType.GetField(nameof(Cpu.TlbRead), Any)!;
    private static readonly FieldInfo FTlbWrite = CpuType.GetField(nameof(Cpu.TlbWrite), Any)!;
    private static readonly FieldInfo FAbort = CpuType.GetField(nameof(Cpu.AbortBlock), Any)!;
    private static readonly FieldInfo FSideExit = CpuType.GetField(nameof(Cpu.SideExit), Any)!;
    private static readonly FieldInfo FEip = CpuType.GetField(nameof(Cpu.EipValue), Any)!;
    private static readonly FieldInfo FExecuting = CpuType.GetField(Cpu.ExecutingFieldName, Any)!;
    private static readonly FieldInfo FLazyOp = CpuType.GetField(nameof(Cpu.LazyOp), Any)!;
    private static readonly FieldInfo FLazySign = CpuType.GetField(nameof(Cpu.LazySign), Any)!;
    private static readonly FieldInfo FLazyA = CpuType.GetField(nameof(Cpu.LazyA), Any)!;
    private static readonly FieldInfo FLazyB = CpuType.GetField(nameof(Cpu.LazyB), Any)!;
    private static readonly FieldInfo FLazyRes = CpuType.GetField(nameof(Cpu.LazyRes), Any)!;
    private static readonly FieldInfo FLazyCarry = CpuType.GetField(nameof(Cpu.LazyCarryIn), Any)!;
    private static readonly FieldInfo FTag = typeof(TlbEntry).GetField(nameof(TlbEntry.Tag))!;
    private static readonly FieldInfo FAddend = typeof(TlbEntry).GetField(nameof(TlbEntry.Addend))!;
    private static readonly MethodInfo MReadSlow = new Func<Cpu, uint, uint>(Cpu.CompiledReadSlow).Method;
    private static readonly MethodInfo MWriteSlow = new Action<Cpu, uint, uint>(Cpu.CompiledWriteSlow).Method;
    private static readonly MethodInfo MCondition = CpuType.GetMethod(nameof(Cpu.Condition), Any)!;
    private static readonly MethodInfo MCarryForIncDec = new Func<Cpu, uint>(Cpu.CompiledCarryForIncDec).Method;
    private static readonly MethodInfo MShift = CpuType.GetMethod(nameof(Cpu.Shift), Any)!;

    private static readonly FieldInfo FExec = typeof(Insn).GetField(nameof(Insn.Exec))!;
    private static readonly FieldInfo FEpoch = CpuType.GetField(nameof(Cpu.TranslationEpoch), Any)!;
    private static readonly FieldInfo FChainRetired = CpuType.GetField(Cpu.ChainRetiredFieldName, Any)!;

    // The first parameter is the delegate's target, bound once and never read: a delegate closed over its first
    // argument calls the method directly, where an open static one goes through a thunk that shifts the arguments.
    private static readonly Type[] Parameters = [typeof(object), typeof(Cpu), typeof(Insn).MakePointerType(), typeof(uint), typeof(int)];

    private static readonly object DelegateTarget = new();

    /// <summary>Compile <paramref name="block"/>'s longest known prefix; null when it has none worth compiling.</summary>
    public static CompiledBlock? Compile(Block block)
    {
        if (block.Bitness != 32)
            return null;
        int n = 0;
        while (n < block.Count && Classify(ref block.Insns[n], n == block.Count - 1) != Kind.None)
            n++;
        if (n == 0)
            return null;
        var method = new DynamicMethod($"block_{block.Physical:x8}", typeof(int), Parameters, CpuType.Module, skipVisibility: true);
        new Emitter(method.GetILGenerator(), block.Insns, n).Emit();
        var code = (CompiledCode)method.CreateDelegate(typeof(CompiledCode), DelegateTarget);
        code(null!, null, 0, 0); // RyuJIT compiles it here, on the compile thread
        return new CompiledBlock(code, n);
    }

    /// <summary>Which of the known forms an instruction is, from the handler the decoder chose for it; <paramref name="last"/>: the block's last.</summary>
    private static Kind Classify(ref Insn i, bool last)
    {
        Kind k = Known(ref i);
        if (k != Kind.None)
            return k;

        // Only the last instruction of a block may end it (a jump, a mode change...): any before it can be a helper call.
        if (last || (nint)i.Exec == 0 || (nint)i.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Undefined)
            return Kind.None;
        return Kind.Helper;
    }

    private static Kind Known(ref Insn i)
    {
        // The handler the decoder chose names the form. (Both sides come from ldftn on the same method in this
        // assembly, so they agree; the differential test fails if a form stopped being recognised.)
        nint x = (nint)i.Exec;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Nop) return Kind.Nop;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.MovRR32) return Kind.MovRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.MovRI32) return Kind.MovRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.MovRM32) return Kind.MovRM;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.MovMR32) return Kind.MovMR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.MovMI32) return Kind.MovMI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Lea32) return Kind.Lea;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AddRR32) return Kind.AddRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.SubRR32) return Kind.SubRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AndRR32) return Kind.AndRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.OrRR32) return Kind.OrRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.XorRR32) return Kind.XorRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CmpRR32) return Kind.CmpRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.TestRR32) return Kind.TestRR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AddRI32) return Kind.AddRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.SubRI32) return Kind.SubRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AndRI32) return Kind.AndRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.OrRI32) return Kind.OrRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.XorRI32) return Kind.XorRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CmpRI32) return Kind.CmpRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.TestRI32) return Kind.TestRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AddRM32) return Kind.AddRM;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CmpRM32) return Kind.CmpRM;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AluRM32)
            return i.Op is Cpu.AluAdc or Cpu.AluSbb ? Kind.None : Kind.AluRM; // carry-in forms: the interpreter
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CmpMR32) return Kind.CmpMR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CmpMI32) return i.Size == 4 ? Kind.CmpMI : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AddMR32) return Kind.AddMR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.AddMI32) return Kind.AddMI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.ShlRI32) return Kind.ShiftRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.ShrRI32) return Kind.ShiftRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.SarRI32) return Kind.ShiftRI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.ShiftGeneric)
            return i.Size == 4 && (i.Form & (Cpu.FormOp1Imm | Cpu.FormOp0Mem)) == Cpu.FormOp1Imm && i.Op is Cpu.ShRol or Cpu.ShRor
                ? Kind.ShiftRI : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.IncR32) return Kind.Inc;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.DecR32) return Kind.Dec;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.PushR32) return Kind.PushR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.PushI32) return Kind.PushI;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.PopR32) return Kind.PopR;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Jcc) return i.Size == 4 ? Kind.Jcc : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.JccSideExit) return i.Size == 4 ? Kind.SideExit : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.JmpRel) return i.Size == 4 ? Kind.Jmp : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.CallRel) return i.Size == 4 ? Kind.Call : Kind.None;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Ret32) return Kind.Ret;
        if (x == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Loop) return i.Op == 0 && !i.Addr16 && i.Size == 4 ? Kind.Loop : Kind.None;
        return Kind.None;
    }

    /// <summary>One block's IL: the state kept while emitting it.</summary>
    private sealed class Emitter
    {
        private readonly ILGenerator _il;
        private readonly Insn[] _insns;
        private readonly int _count;
        private readonly LocalBuilder?[] _reg = new LocalBuilder?[8];
        private readonly LocalBuilder _fA, _fB, _fRes, _fCarry, _lin, _val, _entry;

        // A block with a branch back to its start (its last instruction, or a side exit) loops in place: the top of
        // the loop, and the translation epoch at entry (a change means the interpreter would look the block up again).
        private readonly bool _selfLoop;
        private readonly bool _lastLoops; // the block's last instruction is a branch back to its start
        private Label _loopTop;
        private LocalBuilder? _epoch;

        // The kind of the lazy-flag record held in the locals, or None while the CPU's own fields hold the flags.
        private Cpu.FlagOp _flags = Cpu.FlagOp.None;

        // Dead-flag elimination: _flagsLiveAfter[k] is false when no exit, slow path, helper or flag reader comes
        // between instruction k and the next instruction that sets the whole record, so k's record need not be
        // made; _flagsDead says so for the instruction being emitted.
        private bool[] _flagsLiveAfter = [];
        private bool _flagsDead;

        // A shift whose flags are still to be made over the record (_flags): its operand before the shift, its kind
        // and count. WriteBackFlags makes them by running the interpreter's Shift on the CPU's fields.
        private LocalBuilder? _shiftSource;
        private byte _shiftOp;
        private int _shiftCount;

        public Emitter(ILGenerator il, Insn[] insns, int count)
        {
            _il = il;
            _insns = insns;
            _count = count;
            _fA = il.DeclareLocal(typeof(uint));
            _fB = il.DeclareLocal(typeof(uint));
            _fRes = il.DeclareLocal(typeof(uint));
            _fCarry = il.DeclareLocal(typeof(uint));
            _lin = il.DeclareLocal(typeof(uint));
            _val = il.DeclareLocal(typeof(uint));
            _entry = il.DeclareLocal(typeof(nint));
            ref Insn last = ref insns[count - 1];
            var lastKind = Classify(ref last, true);
            _lastLoops = count == insns.Length && lastKind is Kind.Jcc or Kind.Jmp or Kind.Loop && last.NextOffset + last.Imm == 0;
            _selfLoop = _lastLoops;
            for (int k = 0; k < count && !_selfLoop; k++)
                _selfLoop = IsSideExitToStart(k);
        }

        public void Emit()
        {
            var il = _il;

            // The warm-up call from the compile thread.
            var go = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Brtrue, go);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(go);

            // The code assumes flat segments (linear = offset) and a flat 32-bit stack; otherwise the interpreter runs it all.
            int segMask = 0;
            bool stack = false;
            for (int k = 0; k < _count; k++)
            {
                ref Insn i = ref _insns[k];
                var kind = Classify(ref i, k == _count - 1 && k == _insns.Length - 1);
                if (HasMemoryOperand(kind))
                    segMask |= 1 << i.Seg;
                if (UsesStack(kind))
                    stack = true;
                foreach (int r in Registers(kind, ref i))
                    _reg[r] ??= il.DeclareLocal(typeof(uint));
            }

            var bail = il.DefineLabel();
            if (_selfLoop)
                segMask |= 1 << (int)SegReg.CS; // a CS with a limit: the interpreter checks it at each block entry
            if (segMask != 0)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FChecked);
                il.Emit(OpCodes.Ldc_I4, segMask);
                il.Emit(OpCodes.And);
                il.Emit(OpCodes.Brtrue, bail);
            }

            if (stack)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FFlatStack);
                il.Emit(OpCodes.Brfalse, bail);
            }

            for (int r = 0; r < 8; r++)
            {
                if (_reg[r] == null)
                    continue;
                LoadRegPointer(r);
                il.Emit(OpCodes.Ldind_U4);
                il.Emit(OpCodes.Stloc, _reg[r]!);
            }

            if (_selfLoop)
            {
                _epoch = il.DeclareLocal(typeof(long));
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FEpoch);
                il.Emit(OpCodes.Stloc, _epoch);
                _loopTop = il.DefineLabel();
                il.MarkLabel(_loopTop);
            }

            _flagsLiveAfter = FlagLiveness();
            for (int k = 0; k < _count; k++)
            {
                _flagsDead = !_flagsLiveAfter[k];
                if (!EmitInstruction(k))
                    continue;

                // A slow path may have asked the block to end (a store to code or to a device): leave after this instruction.
                var next = il.DefineLabel();
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FAbort);
                il.Emit(OpCodes.Brfalse, next);
                EmitExit(k, setEip: _helperAt != k);
                il.MarkLabel(next);
            }

            var last = Classify(ref _insns[_count - 1], _count == _insns.Length);
            if (last is not (Kind.Jcc or Kind.Jmp or Kind.Call or Kind.Ret or Kind.Loop))
                EmitExit(_count - 1);

            il.MarkLabel(bail);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Ret);
        }

        /// <summary>
        /// For each instruction, whether the flags it leaves may be read before the next instruction that sets the
        /// whole record: by a conditional branch, INC/DEC (CF), a helper, a slow path that may fault (the fault must
        /// see them), or an exit (conservative: the next block may read them).
        /// </summary>
        private bool[] FlagLiveness()
        {
            var liveAfter = new bool[_count];
            bool live = true;
            for (int k = _count - 1; k >= 0; k--)
            {
                var kind = Classify(ref _insns[k], k == _count - 1 && k == _insns.Length - 1);
                if (k == _count - 1 || MayExitAfter(kind))
                    live = true;
                liveAfter[k] = live;
                // INC/DEC keep CF, a shift keeps SF/ZF/PF/AF (and all flags for a count of 0): they read the record
                // before them only when their own flags are read.
                bool carryIn = kind is Kind.Inc or Kind.Dec or Kind.ShiftRI && live;
                if (SetsFlags(kind))
                    live = false;
                if (MayReadFlags(kind) || carryIn)
                    live = true;
            }

            return liveAfter;
        }

        private static bool SetsFlags(Kind k) => k is Kind.AddRR or Kind.SubRR or Kind.AndRR or Kind.OrRR or Kind.XorRR or Kind.CmpRR
            or Kind.TestRR or Kind.AddRI or Kind.SubRI or Kind.AndRI or Kind.OrRI or Kind.XorRI or Kind.CmpRI or Kind.TestRI
            or Kind.AddRM or Kind.CmpRM or Kind.AluRM or Kind.CmpMR or Kind.CmpMI or Kind.AddMR or Kind.AddMI or Kind.Inc or Kind.Dec;

        // Reads before the instruction's own record is made: the flags of the instructions before it.
        private static bool MayReadFlags(Kind k) => HasMemoryOperand(k) || UsesStack(k)
            || k is Kind.Helper or Kind.Jcc or Kind.SideExit or Kind.Jmp or Kind.Loop;

        // A slow path that may end the block after the instruction (AbortBlock), or a branch out of the block.
        private static bool MayExitAfter(Kind k) => HasMemoryOperand(k) || UsesStack(k)
            || k is Kind.Helper or Kind.Jcc or Kind.SideExit or Kind.Jmp or Kind.Loop;

        private static bool UsesStack(Kind k) => k is Kind.PushR or Kind.PushI or Kind.PopR or Kind.Call or Kind.Ret;

        private static bool HasMemoryOperand(Kind k) => k is Kind.MovRM or Kind.MovMR or Kind.MovMI or Kind.AddRM or Kind.CmpRM
            or Kind.AluRM or Kind.CmpMR or Kind.CmpMI or Kind.AddMR or Kind.AddMI;

        private static IEnumerable<int> Registers(Kind kind, ref Insn i)
        {
            var list = new List<int>();
            switch (kind)
            {
                case Kind.Nop:
                case Kind.Jcc:
                case Kind.SideExit:
                case Kind.Jmp:
                    break;
                case Kind.PushR:
                    list.Add(i.R0);
                    list.Add(4);
                    break;
                case Kind.PushI:
                case Kind.Call:
                case Kind.Ret:
                    list.Add(4);
                    break;
                case Kind.Loop:
                    list.Add(1);
                    break;
                case Kind.ShiftRI:
                    list.Add(i.R0);
                    break;
                case Kind.Helper:
                    break;
                case Kind.PopR:
                    list.Add(i.R0);
                    list.Add(4);
                    break;
                default:
                    list.Add(i.R0);
                    list.Add(i.R1);
                    if (i.Base != Cpu.NoReg)
                        list.Add(i.Base);
                    if (i.Index != Cpu.NoReg)
                        list.Add(i.Index);
                    break;
            }

            return list.Where(r => r < 8);
        }

        /// <summary>Emit instruction <paramref name="k"/>; true when it has a slow path after which the block may have to end.</summary>
        private bool EmitInstruction(int k)
        {
            var il = _il;
            ref Insn i = ref _insns[k];
            var kind = Classify(ref i, k == _count - 1 && k == _insns.Length - 1);
            switch (kind)
            {
                case Kind.Nop:
                    return false;
                case Kind.MovRR:
                    il.Emit(OpCodes.Ldloc, Reg(i.R1));
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    return false;
                case Kind.MovRI:
                    LoadConst(i.Imm);
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    return false;
                case Kind.Lea:
                    EmitEffectiveAddress(ref i);
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    return false;
                case Kind.MovRM:
                    EmitEffectiveAddress(ref i);
                    EmitRead(k);
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    return true;
                case Kind.MovMR:
                case Kind.MovMI:
                    EmitEffectiveAddress(ref i);
                    il.Emit(OpCodes.Stloc, _lin);
                    if (kind == Kind.MovMR)
                        il.Emit(OpCodes.Ldloc, Reg(i.R1));
                    else
                        LoadConst(i.Imm);
                    il.Emit(OpCodes.Stloc, _val);
                    EmitWrite(k);
                    return true;

                case Kind.AddRR: { var src = Reg(i.R1); EmitArith(Cpu.FlagOp.Add, i.R0, () => il.Emit(OpCodes.Ldloc, src), store: true); return false; }
                case Kind.SubRR: { var src = Reg(i.R1); EmitArith(Cpu.FlagOp.Sub, i.R0, () => il.Emit(OpCodes.Ldloc, src), store: true); return false; }
                case Kind.CmpRR: { var src = Reg(i.R1); EmitArith(Cpu.FlagOp.Sub, i.R0, () => il.Emit(OpCodes.Ldloc, src), store: false); return false; }
                case Kind.AndRR: EmitLogic(OpCodes.And, i.R0, Reg(i.R1), 0, store: true); return false;
                case Kind.OrRR: EmitLogic(OpCodes.Or, i.R0, Reg(i.R1), 0, store: true); return false;
                case Kind.XorRR: EmitLogic(OpCodes.Xor, i.R0, Reg(i.R1), 0, store: true); return false;
                case Kind.TestRR: EmitLogic(OpCodes.And, i.R0, Reg(i.R1), 0, store: false); return false;
                case Kind.AddRI: { uint imm = i.Imm; EmitArith(Cpu.FlagOp.Add, i.R0, () => LoadConst(imm), store: true); return false; }
                case Kind.SubRI: { uint imm = i.Imm; EmitArith(Cpu.FlagOp.Sub, i.R0, () => LoadConst(imm), store: true); return false; }
                case Kind.CmpRI: { uint imm = i.Imm; EmitArith(Cpu.FlagOp.Sub, i.R0, () => LoadConst(imm), store: false); return false; }
                case Kind.AndRI: EmitLogic(OpCodes.And, i.R0, null, i.Imm, store: true); return false;
                case Kind.OrRI: EmitLogic(OpCodes.Or, i.R0, null, i.Imm, store: true); return false;
                case Kind.XorRI: EmitLogic(OpCodes.Xor, i.R0, null, i.Imm, store: true); return false;
                case Kind.TestRI: EmitLogic(OpCodes.And, i.R0, null, i.Imm, store: false); return false;

                case Kind.AddRM:
                case Kind.CmpRM:
                case Kind.AluRM:
                {
                    EmitEffectiveAddress(ref i);
                    EmitRead(k);
                    int op = kind == Kind.AddRM ? Cpu.AluAdd : kind == Kind.CmpRM ? Cpu.AluCmp : i.Op;
                    bool store = op != Cpu.AluCmp;
                    switch (op)
                    {
                        case Cpu.AluAdd: EmitArith(Cpu.FlagOp.Add, i.R0, () => il.Emit(OpCodes.Ldloc, _val), store); break;
                        case Cpu.AluSub:
                        case Cpu.AluCmp: EmitArith(Cpu.FlagOp.Sub, i.R0, () => il.Emit(OpCodes.Ldloc, _val), store); break;
                        // Cpu.Alu records a logic operation's operands, where the register forms record zeros.
                        case Cpu.AluAnd: EmitArith(Cpu.FlagOp.Logic, i.R0, () => il.Emit(OpCodes.Ldloc, _val), store, OpCodes.And); break;
                        case Cpu.AluOr: EmitArith(Cpu.FlagOp.Logic, i.R0, () => il.Emit(OpCodes.Ldloc, _val), store, OpCodes.Or); break;
                        default: EmitArith(Cpu.FlagOp.Logic, i.R0, () => il.Emit(OpCodes.Ldloc, _val), store, OpCodes.Xor); break;
                    }

                    return true;
                }

                case Kind.CmpMR:
                case Kind.CmpMI:
                    EmitEffectiveAddress(ref i);
                    EmitRead(k);
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stloc, _fA);
                    if (kind == Kind.CmpMR)
                        il.Emit(OpCodes.Ldloc, Reg(i.R1));
                    else
                        LoadConst(i.Imm);
                    il.Emit(OpCodes.Stloc, _fB);
                    SetResult(OpCodes.Sub);
                    _shiftSource = null;
                    _flags = Cpu.FlagOp.Sub;
                    return true;

                case Kind.AddMR:
                case Kind.AddMI:
                {
                    // Read, store the sum, then record the flags: a faulting store leaves them as they were.
                    var b = il.DeclareLocal(typeof(uint));
                    var a = il.DeclareLocal(typeof(uint));
                    EmitEffectiveAddress(ref i);
                    EmitRead(k); // leaves the address in _lin for the store
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stloc, a);
                    if (kind == Kind.AddMR)
                        il.Emit(OpCodes.Ldloc, Reg(i.R1));
                    else
                        LoadConst(i.Imm);
                    il.Emit(OpCodes.Stloc, b);
                    il.Emit(OpCodes.Ldloc, a);
                    il.Emit(OpCodes.Ldloc, b);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, _val);
                    EmitWrite(k);
                    il.Emit(OpCodes.Ldloc, a);
                    il.Emit(OpCodes.Stloc, _fA);
                    il.Emit(OpCodes.Ldloc, b);
                    il.Emit(OpCodes.Stloc, _fB);
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stloc, _fRes);
                    _shiftSource = null;
                    _flags = Cpu.FlagOp.Add;
                    return true;
                }

                case Kind.ShiftRI:
                {
                    byte op = (nint)i.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.ShlRI32 ? Cpu.ShShl
                        : (nint)i.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.ShrRI32 ? Cpu.ShShr
                        : (nint)i.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.SarRI32 ? Cpu.ShSar : i.Op;
                    int count = (int)(i.Imm & 0x1F);
                    if (count == 0)
                        return false; // no change to the register or the flags
                    if (!_flagsDead)
                    {
                        // A second shift before the first's flags were made: make them now, on the CPU's fields.
                        if (_shiftSource != null)
                        {
                            WriteBackFlags();
                            _flags = Cpu.FlagOp.None;
                            _shiftSource = null;
                        }

                        _shiftSource = il.DeclareLocal(typeof(uint));
                        il.Emit(OpCodes.Ldloc, Reg(i.R0));
                        il.Emit(OpCodes.Stloc, _shiftSource);
                        _shiftOp = op;
                        _shiftCount = count;
                    }

                    var r = Reg(i.R0);
                    switch (op)
                    {
                        case Cpu.ShRol:
                        case Cpu.ShRor:
                            il.Emit(OpCodes.Ldloc, r);
                            il.Emit(OpCodes.Ldc_I4, count);
                            il.Emit(op == Cpu.ShRol ? OpCodes.Shl : OpCodes.Shr_Un);
                            il.Emit(OpCodes.Ldloc, r);
                            il.Emit(OpCodes.Ldc_I4, 32 - count);
                            il.Emit(op == Cpu.ShRol ? OpCodes.Shr_Un : OpCodes.Shl);
                            il.Emit(OpCodes.Or);
                            break;
                        default:
                            il.Emit(OpCodes.Ldloc, r);
                            il.Emit(OpCodes.Ldc_I4, count);
                            il.Emit(op == Cpu.ShShr ? OpCodes.Shr_Un : op == Cpu.ShSar ? OpCodes.Shr : OpCodes.Shl);
                            break;
                    }

                    il.Emit(OpCodes.Stloc, r);
                    return false;
                }

                case Kind.Inc:
                case Kind.Dec:
                    if (_flagsDead)
                    {
                        il.Emit(OpCodes.Ldloc, Reg(i.R0));
                        il.Emit(OpCodes.Ldc_I4_1);
                        il.Emit(kind == Kind.Inc ? OpCodes.Add : OpCodes.Sub);
                        il.Emit(OpCodes.Stloc, Reg(i.R0));
                        return false;
                    }

                    EmitCarryForIncDec();
                    il.Emit(OpCodes.Stloc, _fCarry);
                    il.Emit(OpCodes.Ldloc, Reg(i.R0));
                    il.Emit(OpCodes.Stloc, _fA);
                    il.Emit(OpCodes.Ldc_I4_1);
                    il.Emit(OpCodes.Stloc, _fB);
                    SetResult(kind == Kind.Inc ? OpCodes.Add : OpCodes.Sub);
                    il.Emit(OpCodes.Ldloc, _fRes);
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    _shiftSource = null;
                    _flags = kind == Kind.Inc ? Cpu.FlagOp.Inc : Cpu.FlagOp.Dec;
                    return false;

                case Kind.PushR:
                case Kind.PushI:
                    // The value first (PUSH ESP pushes the old ESP), then the store, then ESP.
                    if (kind == Kind.PushR)
                        il.Emit(OpCodes.Ldloc, Reg(i.R0));
                    else
                        LoadConst(i.Imm);
                    il.Emit(OpCodes.Stloc, _val);
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    il.Emit(OpCodes.Ldc_I4_4);
                    il.Emit(OpCodes.Sub);
                    il.Emit(OpCodes.Stloc, _lin);
                    EmitWrite(k);
                    il.Emit(OpCodes.Ldloc, _lin);
                    il.Emit(OpCodes.Stloc, Reg(4));
                    return true;

                case Kind.PopR:
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    EmitRead(k);
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    il.Emit(OpCodes.Ldc_I4_4);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, Reg(4));
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stloc, Reg(i.R0));
                    return true;

                case Kind.Jcc:
                {
                    var taken = il.DefineLabel();
                    EmitBranchIfCondition(i.Op, taken);
                    EmitExit(k);
                    il.MarkLabel(taken);
                    EmitBackEdge(k);
                    EmitExit(k, i.Imm);
                    return false;
                }

                case Kind.SideExit:
                {
                    // Taken: leave at the target with SideExit and AbortBlock set, as JccSideExit does, so that
                    // ChainBlocks goes on there. Not taken: on with the block, the state unchanged.
                    var taken = il.DefineLabel();
                    var on = il.DefineLabel();
                    EmitBranchIfCondition(i.Op, taken);
                    il.Emit(OpCodes.Br, on);
                    il.MarkLabel(taken);

                    // A branch back to the start loops in place; EmitBackEdge moves the flags to the CPU's fields
                    // on this path only, so the path that goes on keeps the emitter's view of them.
                    var (flags, shiftSource) = (_flags, _shiftSource);
                    EmitBackEdge(k);
                    (_flags, _shiftSource) = (flags, shiftSource);
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldc_I4_1);
                    il.Emit(OpCodes.Stfld, FSideExit);
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldc_I4_1);
                    il.Emit(OpCodes.Stfld, FAbort);
                    EmitExit(k, i.Imm);
                    il.MarkLabel(on);
                    return false;
                }

                case Kind.Jmp:
                    EmitBackEdge(k);
                    EmitExit(k, i.Imm);
                    return false;

                case Kind.Loop:
                {
                    // LOOP: ECX - 1, taken while not zero; no flags.
                    var taken = il.DefineLabel();
                    il.Emit(OpCodes.Ldloc, Reg(1));
                    il.Emit(OpCodes.Ldc_I4_1);
                    il.Emit(OpCodes.Sub);
                    il.Emit(OpCodes.Dup);
                    il.Emit(OpCodes.Stloc, Reg(1));
                    il.Emit(OpCodes.Brtrue, taken);
                    EmitExit(k);
                    il.MarkLabel(taken);
                    EmitBackEdge(k);
                    EmitExit(k, i.Imm);
                    return false;
                }

                case Kind.Call:
                    // Push the return address (a faulting push leaves ESP and EIP as they were), then jump.
                    il.Emit(OpCodes.Ldarg_3);
                    LoadConst(i.NextOffset);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, _val);
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    il.Emit(OpCodes.Ldc_I4_4);
                    il.Emit(OpCodes.Sub);
                    il.Emit(OpCodes.Stloc, _lin);
                    EmitWrite(k);
                    il.Emit(OpCodes.Ldloc, _lin);
                    il.Emit(OpCodes.Stloc, Reg(4));
                    EmitExit(k, i.Imm);
                    return false;

                case Kind.Ret:
                {
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    EmitRead(k);
                    il.Emit(OpCodes.Ldloc, Reg(4));
                    il.Emit(OpCodes.Ldc_I4_4);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, Reg(4));
                    WriteBackRegisters();
                    WriteBackFlags();
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldloc, _val);
                    il.Emit(OpCodes.Stfld, FEip);
                    il.Emit(OpCodes.Ldc_I4, k + 1);
                    il.Emit(OpCodes.Ret);
                    return false;
                }

                case Kind.Helper:
                    EmitHelper(k);
                    return true;
            }

            throw new InvalidOperationException($"no emitter for {kind}");
        }

        /// <summary>
        /// Run instruction <paramref name="k"/> by its interpreter handler, as the interpreter would: the CPU's state
        /// written back, EIP past it and the instruction marked as running; the registers read back after.
        /// </summary>
        private void EmitHelper(int k)
        {
            var il = _il;
            WriteBackForCall(k);
            _shiftSource = null;
            _flags = Cpu.FlagOp.None; // the handler leaves the flags in the CPU's fields
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_3);
            LoadConst(_insns[k].NextOffset);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, FEip);
            il.Emit(OpCodes.Ldarg_1);
            LoadInsnPointer(k);
            LoadInsnPointer(k);
            il.Emit(OpCodes.Ldfld, FExec);
            il.EmitCalli(OpCodes.Calli, CallingConventions.Standard, typeof(void), [typeof(Cpu), typeof(Insn).MakeByRefType()], null);
            for (int r = 0; r < 8; r++)
            {
                if (_reg[r] == null)
                    continue;
                LoadRegPointer(r);
                il.Emit(OpCodes.Ldind_U4);
                il.Emit(OpCodes.Stloc, _reg[r]!);
            }

            _helperAt = k;
        }

        // The instruction whose exit must keep EIP as its handler left it (a REP string instruction stopped early rewinds it).
        private int _helperAt = -1;

        private void LoadInsnPointer(int k)
        {
            _il.Emit(OpCodes.Ldarg_2);
            _il.Emit(OpCodes.Ldc_I4, k);
            _il.Emit(OpCodes.Conv_I);
            _il.Emit(OpCodes.Sizeof, typeof(Insn));
            _il.Emit(OpCodes.Mul);
            _il.Emit(OpCodes.Add);
        }

        // A conditional branch in the middle of the block back to its start: a loop whose body is the block's first
        // k + 1 instructions (the interpreter's blocks go on past it, so it does not end the block).
        private bool IsSideExitToStart(int k) =>
            Classify(ref _insns[k], false) == Kind.SideExit && _insns[k].NextOffset + _insns[k].Imm == 0;

        /// <summary>
        /// At a taken branch back to the block's start (the last instruction's, or a side exit's): run the block
        /// again while its whole compiled prefix fits in the budget, nothing asked the block to end and translations
        /// are as they were; else fall through to the exit. The pass just ended retired instructions 0..k.
        /// </summary>
        private void EmitBackEdge(int k)
        {
            if (!((k == _count - 1 && _lastLoops) || IsSideExitToStart(k)))
                return;
            var il = _il;
            var exit = il.DefineLabel();

            // The top of the loop expects the flags in the CPU's fields.
            WriteBackFlags();
            _shiftSource = null;
            _flags = Cpu.FlagOp.None;
            il.Emit(OpCodes.Ldarg_S, (byte)4);
            il.Emit(OpCodes.Ldc_I4, k + 1);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Starg_S, (byte)4);
            il.Emit(OpCodes.Ldarg_S, (byte)4);
            il.Emit(OpCodes.Ldc_I4, _count);
            il.Emit(OpCodes.Blt, exit);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, FAbort);
            il.Emit(OpCodes.Brtrue, exit);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, FEpoch);
            il.Emit(OpCodes.Ldloc, _epoch!);
            il.Emit(OpCodes.Bne_Un, exit);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Ldfld, FChainRetired);
            il.Emit(OpCodes.Ldc_I4, k + 1);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, FChainRetired);
            il.Emit(OpCodes.Br, _loopTop);
            il.MarkLabel(exit);
        }

        private LocalBuilder Reg(int r) => _reg[r] ?? throw new InvalidOperationException($"register {r} not loaded");

        private void LoadConst(uint value) => _il.Emit(OpCodes.Ldc_I4, unchecked((int)value));

        private void LoadRegPointer(int r)
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldfld, FR);
            _il.Emit(OpCodes.Ldc_I4, r * 4);
            _il.Emit(OpCodes.Add);
        }

        /// <summary>Push base + (index &lt;&lt; scale) + displacement, wrapped at 64 KiB for 16-bit addressing (segments are flat).</summary>
        private void EmitEffectiveAddress(ref Insn i)
        {
            var il = _il;
            LoadConst(i.Disp);
            if (i.Base != Cpu.NoReg)
            {
                il.Emit(OpCodes.Ldloc, Reg(i.Base));
                il.Emit(OpCodes.Add);
            }

            if (i.Index != Cpu.NoReg)
            {
                il.Emit(OpCodes.Ldloc, Reg(i.Index));
                if (i.Scale != 0)
                {
                    il.Emit(OpCodes.Ldc_I4, (int)i.Scale);
                    il.Emit(OpCodes.Shl);
                }

                il.Emit(OpCodes.Add);
            }

            if (i.Addr16)
            {
                il.Emit(OpCodes.Ldc_I4, 0xFFFF);
                il.Emit(OpCodes.And);
            }
        }

        /// <summary>dst = dst op operand with the lazy record of <paramref name="op"/> (add or sub kinds, or a logic op that records its operands).</summary>
        private void EmitArith(Cpu.FlagOp op, int dst, Action loadB, bool store, OpCode? logic = null)
        {
            var il = _il;
            var result = op switch
            {
                Cpu.FlagOp.Add => OpCodes.Add,
                Cpu.FlagOp.Sub => OpCodes.Sub,
                _ => logic!.Value,
            };
            if (_flagsDead)
            {
                // No record: the result alone (a compare, nothing).
                if (!store)
                    return;
                il.Emit(OpCodes.Ldloc, Reg(dst));
                loadB();
                il.Emit(result);
                il.Emit(OpCodes.Stloc, Reg(dst));
                return;
            }

            il.Emit(OpCodes.Ldloc, Reg(dst));
            il.Emit(OpCodes.Stloc, _fA);
            loadB();
            il.Emit(OpCodes.Stloc, _fB);
            SetResult(result);
            if (store)
            {
                il.Emit(OpCodes.Ldloc, _fRes);
                il.Emit(OpCodes.Stloc, Reg(dst));
            }

            _shiftSource = null;
            _flags = op;
        }

        /// <summary>The register forms of AND/OR/XOR/TEST: the record holds the result and zero operands.</summary>
        private void EmitLogic(OpCode op, int dst, LocalBuilder? src, uint imm, bool store)
        {
            var il = _il;
            if (_flagsDead)
            {
                if (!store)
                    return;
                il.Emit(OpCodes.Ldloc, Reg(dst));
                if (src != null)
                    il.Emit(OpCodes.Ldloc, src);
                else
                    LoadConst(imm);
                il.Emit(op);
                il.Emit(OpCodes.Stloc, Reg(dst));
                return;
            }

            il.Emit(OpCodes.Ldloc, Reg(dst));
            if (src != null)
                il.Emit(OpCodes.Ldloc, src);
            else
                LoadConst(imm);
            il.Emit(op);
            il.Emit(OpCodes.Stloc, _fRes);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stloc, _fA);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stloc, _fB);
            if (store)
            {
                il.Emit(OpCodes.Ldloc, _fRes);
                il.Emit(OpCodes.Stloc, Reg(dst));
            }

            _shiftSource = null;
            _flags = Cpu.FlagOp.Logic;
        }

        private void SetResult(OpCode op)
        {
            _il.Emit(OpCodes.Ldloc, _fA);
            _il.Emit(OpCodes.Ldloc, _fB);
            _il.Emit(op);
            _il.Emit(OpCodes.Stloc, _fRes);
        }

        /// <summary>Push CF as INC/DEC keep it: from the record in the locals when its kind is known, else as the interpreter works it out.</summary>
        private void EmitCarryForIncDec()
        {
            var il = _il;
            if (_shiftSource != null)
            {
                // CF as a shift left it: on the CPU's fields.
                WriteBackFlags();
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Call, MCarryForIncDec);
                return;
            }

            switch (_flags)
            {
                case Cpu.FlagOp.None:
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Call, MCarryForIncDec);
                    break;
                case Cpu.FlagOp.Inc:
                case Cpu.FlagOp.Dec:
                    il.Emit(OpCodes.Ldloc, _fCarry);
                    break;
                case Cpu.FlagOp.Add:
                    il.Emit(OpCodes.Ldloc, _fRes);
                    il.Emit(OpCodes.Ldloc, _fA);
                    il.Emit(OpCodes.Clt_Un);
                    break;
                case Cpu.FlagOp.Sub:
                    il.Emit(OpCodes.Ldloc, _fA);
                    il.Emit(OpCodes.Ldloc, _fB);
                    il.Emit(OpCodes.Clt_Un);
                    break;
                default:
                    il.Emit(OpCodes.Ldc_I4_0);
                    break;
            }
        }

        /// <summary>Branch to <paramref name="taken"/> when condition <paramref name="cc"/> holds.</summary>
        private void EmitBranchIfCondition(int cc, Label taken)
        {
            var il = _il;
            if (_shiftSource == null && _flags == Cpu.FlagOp.Sub && cc >= 2 && cc != 8 && cc != 9 && cc != 0xA && cc != 0xB)
            {
                il.Emit(OpCodes.Ldloc, _fA);
                il.Emit(OpCodes.Ldloc, _fB);
                il.Emit(cc switch
                {
                    0x2 => OpCodes.Blt_Un,
                    0x3 => OpCodes.Bge_Un,
                    0x4 => OpCodes.Beq,
                    0x5 => OpCodes.Bne_Un,
                    0x6 => OpCodes.Ble_Un,
                    0x7 => OpCodes.Bgt_Un,
                    0xC => OpCodes.Blt,
                    0xD => OpCodes.Bge,
                    0xE => OpCodes.Ble,
                    _ => OpCodes.Bgt,
                }, taken);
                return;
            }

            if (_shiftSource == null && _flags != Cpu.FlagOp.None && (cc | 1) == 0x5)
            {
                il.Emit(OpCodes.Ldloc, _fRes);
                il.Emit(cc == 0x4 ? OpCodes.Brfalse : OpCodes.Brtrue, taken);
                return;
            }

            WriteBackFlags();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I4, cc);
            il.Emit(OpCodes.Call, MCondition);
            il.Emit(OpCodes.Brtrue, taken);
        }

        /// <summary>Read 4 bytes at the address on the stack into <c>_val</c>: the TLB hit inline, the interpreter's slow path on a miss.</summary>
        private void EmitRead(int k)
        {
            var il = _il;
            var miss = il.DefineLabel();
            var done = il.DefineLabel();
            il.Emit(OpCodes.Stloc, _lin);
            EmitEntry(FTlbRead);
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldfld, FTag);
            EmitPageOfLastByte();
            il.Emit(OpCodes.Bne_Un, miss);
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldfld, FAddend);
            il.Emit(OpCodes.Ldloc, _lin);
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldind_U4);
            il.Emit(OpCodes.Stloc, _val);
            il.Emit(OpCodes.Br, done);
            il.MarkLabel(miss);
            WriteBackForCall(k);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, _lin);
            il.Emit(OpCodes.Call, MReadSlow);
            il.Emit(OpCodes.Stloc, _val);
            il.MarkLabel(done);
        }

        /// <summary>Write <c>_val</c> to the 4 bytes at <c>_lin</c>: the TLB hit inline, the interpreter's slow path on a miss.</summary>
        private void EmitWrite(int k)
        {
            var il = _il;
            var miss = il.DefineLabel();
            var done = il.DefineLabel();
            EmitEntry(FTlbWrite);
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldfld, FTag);
            EmitPageOfLastByte();
            il.Emit(OpCodes.Bne_Un, miss);
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldfld, FAddend);
            il.Emit(OpCodes.Ldloc, _lin);
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldloc, _val);
            il.Emit(OpCodes.Stind_I4);
            il.Emit(OpCodes.Br, done);
            il.MarkLabel(miss);
            WriteBackForCall(k);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, _lin);
            il.Emit(OpCodes.Ldloc, _val);
            il.Emit(OpCodes.Call, MWriteSlow);
            il.MarkLabel(done);
        }

        /// <summary>_entry = the TLB (read or write, whichever set is in use now) + the index of _lin's page.</summary>
        private void EmitEntry(FieldInfo tlb)
        {
            var il = _il;
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, tlb);
            il.Emit(OpCodes.Ldloc, _lin);
            il.Emit(OpCodes.Ldc_I4_S, (sbyte)12);
            il.Emit(OpCodes.Shr_Un);
            il.Emit(OpCodes.Ldc_I4, Cpu.TlbMask);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Sizeof, typeof(TlbEntry));
            il.Emit(OpCodes.Mul);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _entry);
        }

        // The tag must equal the page of the access's last byte too, so a hit never crosses a page.
        private void EmitPageOfLastByte()
        {
            _il.Emit(OpCodes.Ldloc, _lin);
            _il.Emit(OpCodes.Ldc_I4_3);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Ldc_I4, unchecked((int)0xFFFFF000));
            _il.Emit(OpCodes.And);
        }

        /// <summary>Before a call that may fault or look at the CPU: registers, flags and the instruction running, as the interpreter has them.</summary>
        private void WriteBackForCall(int k)
        {
            WriteBackRegisters();
            WriteBackFlags();
            _il.Emit(OpCodes.Ldarg_1);
            LoadInsnPointer(k);
            _il.Emit(OpCodes.Stfld, FExecuting);
        }

        private void WriteBackRegisters()
        {
            for (int r = 0; r < 8; r++)
            {
                if (_reg[r] == null)
                    continue;
                LoadRegPointer(r);
                _il.Emit(OpCodes.Ldloc, _reg[r]!);
                _il.Emit(OpCodes.Stind_I4);
            }
        }

        private void WriteBackRecord()
        {
            if (_flags == Cpu.FlagOp.None)
                return;
            var il = _il;
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I4, (int)_flags);
            il.Emit(OpCodes.Stfld, FLazyOp);
            il.Emit(OpCodes.Ldarg_1);
            LoadConst(0x80000000);
            il.Emit(OpCodes.Stfld, FLazySign);
            StoreField(FLazyA, _fA);
            StoreField(FLazyB, _fB);
            StoreField(FLazyRes, _fRes);
            if (_flags is Cpu.FlagOp.Inc or Cpu.FlagOp.Dec)
                StoreField(FLazyCarry, _fCarry);
        }

        /// <summary>The flags as the interpreter has them into the CPU's fields: the record, then any shift over it.</summary>
        private void WriteBackFlags()
        {
            WriteBackRecord();
            if (_shiftSource == null)
                return;

            // Shift sets from its operand alone the flags it changes and keeps the others, so running it again on
            // fields it already ran on (a slow path, then the exit) leaves them as they were.
            var il = _il;
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I4, (int)_shiftOp);
            il.Emit(OpCodes.Ldloc, _shiftSource);
            il.Emit(OpCodes.Ldc_I4, _shiftCount);
            il.Emit(OpCodes.Ldc_I4_4);
            il.Emit(OpCodes.Call, MShift);
            il.Emit(OpCodes.Pop);
        }

        private void StoreField(FieldInfo f, LocalBuilder l)
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldloc, l);
            _il.Emit(OpCodes.Stfld, f);
        }

        /// <summary>Leave after instruction <paramref name="k"/> retired: state written back, EIP past it (plus a branch displacement), k + 1 returned.</summary>
        private void EmitExit(int k, uint displacement = 0, bool setEip = true)
        {
            var il = _il;
            WriteBackRegisters();
            WriteBackFlags();
            if (setEip)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldarg_3);
                LoadConst(_insns[k].NextOffset + displacement);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Stfld, FEip);
            }

            il.Emit(OpCodes.Ldc_I4, k + 1);
            il.Emit(OpCodes.Ret);
        }
    }
}

using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The block compiler against the interpreter: seeded random blocks of integer instructions (the forms the
/// compiler handles, with some it does not sprinkled in), random registers, flags and memory, paging on with an
/// unmapped and a read-only page among the data so that loads, stores and pushes fault in mid-block. One
/// machine interprets; the other compiles every block the first time it runs. Registers, EFLAGS, EIP, memory,
/// every exception (vector, error code, EIP, CR2, and the registers when it was raised) and the retired count
/// must be the same.
/// </summary>
[TestFixture]
public class JitDifferentialTests
{
    private const uint Data = 0x400000, DataFrames = 0x600000, Unmapped = 0x404000, ReadOnly = 0x405000;
    private const int DataBytes = 0x6000;

    private static readonly AssemblerRegister32[] Regs = [eax, ecx, edx, ebx, esp, ebp, esi, edi];
    private static readonly AssemblerRegister32[] Pointers = [ebx, ebp, esi, edi];

    [Test]
    public void RandomBlocksMatchTheInterpreter()
    {
        int faulted = 0;
        long compiled = 0, total = 0;
        for (int seed = 1; seed <= 1500; seed++)
        {
            var (jitCompiled, jitTotal, fault) = CompareOne(seed);
            compiled += jitCompiled;
            total += jitTotal;
            if (fault)
                faulted++;
        }

        // Not vacuous: a good share of the instructions ran compiled, and many blocks faulted part way.
        Assert.That(compiled, Is.GreaterThan(total / 3), $"{compiled} of {total} instructions compiled");
        Assert.That(faulted, Is.GreaterThan(150), "blocks that faulted");
    }

    [Test]
    public void AStoreIntoTheRunningBlockIsSeenAtTheNextInstruction()
    {
        // The loop patches the immediate of an instruction later in its own block: the compiled store must leave
        // the block there, as the interpreter does, and the patched instruction must run re-decoded.
        Action<Assembler> program = a =>
        {
            // mov esi (5 bytes), mov ecx (5), xor (2), mov ebx (2), mov [esi+1] (3): the patched MOV is at offset 17.
            var top = a.CreateLabel();
            a.mov(esi, TestMachine.CodeBase + 17);
            a.mov(ecx, 200);
            a.xor(edx, edx);
            a.Label(ref top);
            a.mov(ebx, ecx);
            a.mov(__dword_ptr[esi + 1], ebx);
            a.mov(eax, 0x11111111);
            a.add(edx, eax);
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        };

        var (interp, jit) = (new TestMachine(), new TestMachine());
        try
        {
            jit.Cpu.Tier = CpuTier.Jit;
            jit.Cpu.JitThreshold = 1; // every block compiled the first time: the patched block is a new one each pass
            jit.Cpu.CompileInline = true;
            Assert.That(interp.Run(program), Is.EqualTo(StopReason.Halted));
            Assert.That(jit.Run(program), Is.EqualTo(StopReason.Halted));
            uint expected = 0;
            for (uint c = 200; c > 0; c--)
                expected += c;
            Assert.That(interp.Cpu.Edx, Is.EqualTo(expected));
            Assert.That(jit.Cpu.Edx, Is.EqualTo(expected));
            Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(interp.Cpu.InstructionsExecuted));
            Assert.That(jit.Cpu.InstructionsCompiled, Is.GreaterThan(0));
        }
        finally
        {
            interp.Dispose();
            jit.Dispose();
        }
    }

    [Test]
    public void AHotLoopRunsCompiledWithTheSameCount()
    {
        Action<Assembler> program = a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 5000);
            a.mov(ebx, 0x200000);
            a.Label(ref top);
            a.mov(eax, __dword_ptr[ebx]);
            a.add(eax, ecx);
            a.mov(__dword_ptr[ebx], eax);
            a.push(eax);
            a.pop(edx);
            a.cmp(ecx, 1);
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        };

        var (interp, jit) = (new TestMachine(), new TestMachine());
        try
        {
            jit.Cpu.Tier = CpuTier.Jit;
            jit.Cpu.CompileInline = true;
            jit.Cpu.JitThreshold = 50; // these loops run a few thousand times: compile them early, well before the default
            Assert.That(interp.Run(program), Is.EqualTo(StopReason.Halted));
            Assert.That(jit.Run(program), Is.EqualTo(StopReason.Halted));
            Assert.That(jit.Memory.Read32(0x200000), Is.EqualTo(interp.Memory.Read32(0x200000)));
            Assert.That(jit.Cpu.Edx, Is.EqualTo(interp.Cpu.Edx));
            Assert.That(jit.Cpu.Eflags, Is.EqualTo(interp.Cpu.Eflags));
            Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(interp.Cpu.InstructionsExecuted));
            var stats = jit.Cpu.JitStats;
            Assert.That(stats.BlocksCompiled, Is.GreaterThan(0));
            Assert.That(stats.CompiledShare, Is.GreaterThan(0.9));
        }
        finally
        {
            interp.Dispose();
            jit.Dispose();
        }
    }

    // A loop whose every pass runs through five blocks: flags set in one block are read in the next (a JB after a
    // JMP, an ADC, and a DEC that keeps the CF a compare left before a RET), so they must survive each chain step.
    private static readonly Action<Assembler> ChainedLoop = a =>
    {
        Label top = a.CreateLabel(), next = a.CreateLabel(), below = a.CreateLabel(), function = a.CreateLabel();
        a.mov(ecx, 3000);
        a.mov(ebx, 0x200000);
        a.xor(edx, edx);
        a.Label(ref top);
        a.mov(eax, __dword_ptr[ebx]);
        a.add(eax, ecx);
        a.cmp(eax, edx);
        a.jmp(next);
        a.Label(ref next);
        a.jb(below);
        a.add(edx, 3);
        a.Label(ref below);
        a.adc(edx, 0);
        a.mov(__dword_ptr[ebx], eax);
        a.call(function);
        a.dec(ecx);
        a.adc(esi, 0); // CF from the compare in the function, kept by DEC
        a.test(ecx, ecx);
        a.jne(top);
        a.hlt();
        a.Label(ref function);
        a.cmp(ecx, 1000);
        a.ret();
    };

    [Test]
    public void CompiledBlocksChainIntoEachOtherAndKeepFlagsCountsAndState()
    {
        var (interp, jit) = (new TestMachine(), new TestMachine());
        try
        {
            jit.Cpu.Tier = CpuTier.Jit;
            jit.Cpu.CompileInline = true;
            jit.Cpu.JitThreshold = 50; // these loops run a few thousand times: compile them early, well before the default
            Assert.That(interp.Run(ChainedLoop), Is.EqualTo(StopReason.Halted));
            Assert.That(jit.Run(ChainedLoop), Is.EqualTo(StopReason.Halted));
            foreach (int r in new[] { 0, 2, 6 })
                Assert.That(jit.Cpu.GetRegister(r), Is.EqualTo(interp.Cpu.GetRegister(r)), $"register {r}");
            Assert.That(interp.Cpu.Esi, Is.EqualTo(999u), "the loop's own check: CF from the function's compare, 999 times");
            Assert.That(jit.Memory.Read32(0x200000), Is.EqualTo(interp.Memory.Read32(0x200000)));
            Assert.That(jit.Cpu.Eflags, Is.EqualTo(interp.Cpu.Eflags));
            Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(interp.Cpu.InstructionsExecuted));
            var stats = jit.Cpu.JitStats;
            Assert.That(stats.ChainsFollowed, Is.GreaterThan(2000 * 4), "compiled blocks went straight on into the next");
            Assert.That(stats.CompiledShare, Is.GreaterThan(0.9));
        }
        finally
        {
            interp.Dispose();
            jit.Dispose();
        }
    }

    [Test]
    public void AChainStopsExactlyWhereTheBudgetEnds()
    {
        // Run in slices of a prime number of instructions, so slices end inside blocks and between chained ones:
        // the state after every slice must be the interpreter's.
        var (interp, jit) = (new TestMachine(), new TestMachine());
        try
        {
            jit.Cpu.Tier = CpuTier.Jit;
            jit.Cpu.CompileInline = true;
            jit.Cpu.JitThreshold = 50; // these loops run a few thousand times: compile them early, well before the default
            interp.Load(ChainedLoop);
            jit.Load(ChainedLoop);
            interp.Cpu.Esi = jit.Cpu.Esi = 0;
            for (int slice = 0; slice < 4000; slice++)
            {
                var stopI = interp.Cpu.Run(37);
                var stopJ = jit.Cpu.Run(37);
                Assert.That(stopJ, Is.EqualTo(stopI), $"slice {slice}");
                Assert.That(jit.Cpu.Eip, Is.EqualTo(interp.Cpu.Eip), $"slice {slice}: EIP");
                Assert.That(jit.Cpu.Eflags, Is.EqualTo(interp.Cpu.Eflags), $"slice {slice}: EFLAGS");
                Assert.That(jit.Cpu.InstructionsExecuted, Is.EqualTo(interp.Cpu.InstructionsExecuted), $"slice {slice}: retired");
                for (int r = 0; r < 8; r++)
                    Assert.That(jit.Cpu.GetRegister(r), Is.EqualTo(interp.Cpu.GetRegister(r)), $"slice {slice}: register {r}");
                if (stopI == StopReason.Halted)
                    break;
            }

            Assert.That(interp.Cpu.IsHalted, Is.True, "the loop ran to its end");
            Assert.That(jit.Cpu.JitStats.ChainsFollowed, Is.GreaterThan(0));
        }
        finally
        {
            interp.Dispose();
            jit.Dispose();
        }
    }

    [Test]
    public void ASecondCpuRunningTheSameCode_ReusesItsCompiledBlocks()
    {
        // Through the compile thread, as guests use it: the first CPU's blocks are compiled, the second's found by
        // their instructions. The second still ends as the interpreter does.
        var (first, second, interp) = (new TestMachine(), new TestMachine(), new TestMachine());
        try
        {
            Assert.That(interp.Run(ChainedLoop), Is.EqualTo(StopReason.Halted));
            first.Cpu.Tier = second.Cpu.Tier = CpuTier.Jit;
            first.Load(ChainedLoop);
            first.Cpu.Esi = 0;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (first.Cpu.JitStats.BlocksCompiled < 3 && DateTime.UtcNow < deadline)
            {
                first.Cpu.Eip = TestMachine.CodeBase; // start over while the compile thread works
                first.Cpu.Run(20_000);
            }

            Assert.That(first.Cpu.JitStats.BlocksCompiled, Is.GreaterThanOrEqualTo(3), "the compile thread compiled the loop's blocks");
            second.Load(ChainedLoop);
            while (second.Cpu.JitStats.BlocksReused == 0 && DateTime.UtcNow < deadline)
            {
                second.Cpu.Eip = TestMachine.CodeBase;
                second.Cpu.Run(20_000);
            }

            Assert.That(second.Cpu.JitStats.BlocksReused, Is.GreaterThan(0), "blocks given the first CPU's code");
            Assert.That(second.Cpu.JitStats.BlocksCompiled, Is.Zero, "none compiled again");

            // A whole run from the start on the second CPU, its blocks holding the shared code: the interpreter's end.
            second.Memory.Write32(0x200000, 0);
            second.Cpu.Esi = 0;
            second.Cpu.Eip = TestMachine.CodeBase;
            long before = second.Cpu.InstructionsExecuted;
            Assert.That(second.Cpu.Run(1_000_000), Is.EqualTo(StopReason.Halted));
            Assert.That(second.Cpu.InstructionsExecuted - before, Is.EqualTo(interp.Cpu.InstructionsExecuted));
            for (int r = 0; r < 8; r++)
                Assert.That(second.Cpu.GetRegister(r), Is.EqualTo(interp.Cpu.GetRegister(r)), $"register {r}");
            Assert.That(second.Cpu.Eflags, Is.EqualTo(interp.Cpu.Eflags));
            Assert.That(second.Memory.Read32(0x200000), Is.EqualTo(interp.Memory.Read32(0x200000)));
        }
        finally
        {
            first.Dispose();
            second.Dispose();
            interp.Dispose();
        }
    }

    private static (long Compiled, long Total, bool Faulted) CompareOne(int seed)
    {
        var rng = new Random(seed);
        var program = RandomProgram(rng);
        var regs = new uint[8];
        for (int r = 0; r < 8; r++)
            regs[r] = Value(rng);
        foreach (var p in new[] { 3, 5, 6, 7 })
            regs[p] = Data - 0x10 + (uint)rng.Next(DataBytes + 0x20);
        regs[4] = rng.Next(8) == 0 ? Unmapped + 8 : Data + 0x10 + ((uint)rng.Next(0x3FF0) & (rng.Next(4) == 0 ? ~0u : ~3u));
        uint eflags = 0x2 | ((uint)rng.Next() & Exec.ArithFlags);
        var memory = new byte[DataBytes];
        rng.NextBytes(memory);
        long budget = rng.Next(6) == 0 ? rng.Next(1, 40) : 100_000;

        using var interp = Build(program, regs, eflags, memory, jit: false);
        using var jit = Build(program, regs, eflags, memory, jit: true);
        var interpFaults = Observe(interp.M);
        var jitFaults = Observe(jit.M);
        var stopI = interp.M.Cpu.Run(budget);
        var stopJ = jit.M.Cpu.Run(budget);

        string where = $"seed {seed}";
        Assert.That(stopJ, Is.EqualTo(stopI), where);
        Assert.That(jitFaults, Is.EqualTo(interpFaults), where);
        AssertSameState(interp.M, jit.M, where);
        return (jit.M.Cpu.InstructionsCompiled, jit.M.Cpu.InstructionsExecuted, interpFaults.Count > 0);
    }

    /// <summary>A register or immediate value: often small or at a signed boundary, so that compares see equal and adjacent operands.</summary>
    private static uint Value(Random rng) => rng.Next(4) switch
    {
        0 => (uint)rng.Next(-3, 4),
        1 => rng.Next(2) == 0 ? 0x7FFFFFFFu + (uint)rng.Next(0, 3) : 0xFFFFFFFFu,
        _ => (uint)rng.NextInt64(0, 1L << 32),
    };

    private static void AssertSameState(TestMachine i, TestMachine j, string where)
    {
        for (int r = 0; r < 8; r++)
            Assert.That(j.Cpu.GetRegister(r), Is.EqualTo(i.Cpu.GetRegister(r)), $"{where}: register {r}");
        Assert.That(j.Cpu.Eflags, Is.EqualTo(i.Cpu.Eflags), $"{where}: EFLAGS {Exec.Names(i.Cpu.Eflags)} / {Exec.Names(j.Cpu.Eflags)}");
        Assert.That(j.Cpu.Eip, Is.EqualTo(i.Cpu.Eip), $"{where}: EIP");
        Assert.That(j.Cpu.Cr2, Is.EqualTo(i.Cpu.Cr2), $"{where}: CR2");
        Assert.That(j.Cpu.InstructionsExecuted, Is.EqualTo(i.Cpu.InstructionsExecuted), $"{where}: retired");
        for (uint a = 0; a < DataBytes; a += 4)
            Assert.That(j.Memory.Read32(DataFrames + a), Is.EqualTo(i.Memory.Read32(DataFrames + a)), $"{where}: memory at {Data + a:x8}");
        for (uint a = SystemTables.KernelStack - 0x100; a < SystemTables.KernelStack; a += 4)
            Assert.That(j.Memory.Read32(a), Is.EqualTo(i.Memory.Read32(a)), $"{where}: kernel stack at {a:x8}");
    }

    /// <summary>Each exception as raised: its record and the general registers and EFLAGS at that moment.</summary>
    private static List<string> Observe(TestMachine m)
    {
        var seen = new List<string>();
        var cpu = m.Cpu;
        cpu.FaultObserver = f => seen.Add($"{f} regs {string.Join(",", Enumerable.Range(0, 8).Select(r => cpu.GetRegister(r).ToString("x")))} "
            + $"flags {cpu.Eflags:x} count {cpu.InstructionsNow}");
        return seen;
    }

    private sealed class World : IDisposable
    {
        public World(TestMachine m) => M = m;

        public TestMachine M { get; }

        public void Dispose() => M.Dispose();
    }

    private static World Build(Action<Assembler> program, uint[] regs, uint eflags, byte[] memory, bool jit)
    {
        var m = new TestMachine(8 << 20);
        _ = new SystemTables(m);
        var pt = new PageTables(m);
        for (uint p = 0; p < 4; p++)
            pt.Map(Data + (p * 0x1000), DataFrames + (p * 0x1000), PageTables.P | PageTables.RW);
        pt.Map(ReadOnly, DataFrames + 0x5000, PageTables.P);
        m.Memory.Write(DataFrames, memory);
        pt.Enable(wp: true);
        m.Load(program);
        for (int r = 0; r < 8; r++)
            m.Cpu.SetRegister(r, regs[r]);
        m.Cpu.Eflags = eflags;
        if (jit)
        {
            m.Cpu.Tier = CpuTier.Jit;
            m.Cpu.JitThreshold = 1;
            m.Cpu.CompileInline = true;
        }

        return new World(m);
    }

    private static Action<Assembler> RandomProgram(Random rng)
    {
        int n = rng.Next(1, 24);
        var steps = new List<Action<Assembler>>();
        for (int k = 0; k < n; k++)
            steps.Add(RandomInstruction(rng));
        int cc = rng.Next(16);
        int loop = rng.Next(6); // 0, 1: a DEC/JNZ loop or a LOOP back to the block's start
        bool call = rng.Next(3) == 0;
        var sub = new List<Action<Assembler>>();
        for (int k = rng.Next(4); k > 0; k--)
            sub.Add(RandomInstruction(rng));
        return a =>
        {
            var top = a.CreateLabel();
            var other = a.CreateLabel();
            var function = a.CreateLabel();
            if (loop < 2)
                a.mov(ecx, 3);
            a.Label(ref top);
            foreach (var s in steps)
                s(a);

            // ECX may be changed by the body: the loop may run long, the budget ends it.
            if (loop == 0)
            {
                a.dec(ecx);
                a.jne(top);
            }
            else if (loop == 1)
            {
                a.loop(top);
            }

            if (call)
                a.call(function);
            Jcc(a, cc, other);
            a.hlt();
            a.Label(ref other);
            a.nop();
            a.hlt();
            a.Label(ref function);
            foreach (var s in sub)
                s(a);
            a.ret();
        };
    }

    private static void Jcc(Assembler a, int cc, Label l)
    {
        switch (cc)
        {
            case 0: a.jo(l); break;
            case 1: a.jno(l); break;
            case 2: a.jb(l); break;
            case 3: a.jae(l); break;
            case 4: a.je(l); break;
            case 5: a.jne(l); break;
            case 6: a.jbe(l); break;
            case 7: a.ja(l); break;
            case 8: a.js(l); break;
            case 9: a.jns(l); break;
            case 10: a.jp(l); break;
            case 11: a.jnp(l); break;
            case 12: a.jl(l); break;
            case 13: a.jge(l); break;
            case 14: a.jle(l); break;
            default: a.jg(l); break;
        }
    }

    private static AssemblerMemoryOperand Mem(Random rng)
    {
        var b = Pointers[rng.Next(Pointers.Length)];
        int disp = rng.Next(10) == 0 ? rng.Next(-0x20, 0x1100) : rng.Next(-8, 0x40);
        if (rng.Next(5) == 0)
            return __dword_ptr[b + Pointers[rng.Next(Pointers.Length)] * (1 << rng.Next(4)) + disp];
        return __dword_ptr[b + disp];
    }

    private static Action<Assembler> RandomInstruction(Random rng)
    {
        var d = Regs[rng.Next(8) is 4 && rng.Next(4) != 0 ? 0 : rng.Next(8)];
        if (d == esp && rng.Next(2) == 0)
            d = eax;
        var s = Regs[rng.Next(8)];
        uint imm = Value(rng);
        int cc = rng.Next(16);
        var m = Mem(rng);
        int op = rng.Next(8);
        byte shiftCount = (byte)(rng.Next(4) switch { 0 => 1, 1 => 31, 2 => 0, _ => rng.Next(32) });
        switch (rng.Next(30) switch { >= 28 => 24, >= 26 => 23, >= 23 => 21, var c => c })
        {
            case 0: return a => a.mov(d, s);
            case 1: return a => a.mov(d, imm);
            case 2: return a => a.mov(d, m);
            case 3: return a => a.mov(m, s);
            case 4: return a => a.mov(m, imm);
            case 5: return a => a.lea(d, m);
            case 6: return a => Alu(a, op, d, s);
            case 7: return a => AluImm(a, op, d, imm);
            case 8: return a => AluMem(a, op, d, m);
            case 9: return a => a.test(d, s);
            case 10: return a => a.test(d, imm);
            case 11: return a => a.cmp(m, s);
            case 12: return a => a.cmp(m, imm);
            case 13: return a => a.add(m, s);
            case 14: return a => a.add(m, imm);
            case 15: return a => a.inc(d);
            case 16: return a => a.dec(d);
            case 17: return a => a.push(s);
            case 18: return a => a.push(imm);
            case 19: return a => a.pop(d == esp ? eax : d);
            case 20: return a => a.nop();
            case 21:
                // A flag-setting instruction and a conditional branch over one instruction: both paths are checked.
                return a =>
                {
                    var skip = a.CreateLabel();
                    switch (op)
                    {
                        case 0: a.cmp(d, s); break;
                        case 1: a.cmp(d, imm); break;
                        case 2: a.test(d, s); break;
                        case 3: a.sub(d, imm); break;
                        case 4: a.dec(d); break;
                        case 5: a.inc(d); break;
                        case 6: a.add(d, s); break;
                        default: a.cmp(m, s); break;
                    }

                    Jcc(a, cc, skip);
                    a.xor(eax, 0x5A5A5A5A);
                    a.Label(ref skip);
                };
            case 24:
                // Shifts and rotates by an immediate (counts 0, 1, 31 among them): flags made only where read.
                return a =>
                {
                    switch (op % 5)
                    {
                        case 0: a.shl(d, shiftCount); break;
                        case 1: a.shr(d, shiftCount); break;
                        case 2: a.sar(d, shiftCount); break;
                        case 3: a.rol(d, shiftCount); break;
                        default: a.ror(d, shiftCount); break;
                    }

                    // Then something that reads them: a branch, INC (keeps CF), ADC, or nothing (the exit does).
                    var skip = a.CreateLabel();
                    switch (cc % 4)
                    {
                        case 0:
                            Jcc(a, cc, skip);
                            a.xor(eax, 0x5A5A5A5A);
                            break;
                        case 1: a.inc(s == esp ? eax : s); break;
                        case 2: a.adc(d, s); break;
                    }

                    a.Label(ref skip);
                };
            case 23:
                // The same across a block boundary: the flags are set before a JMP and read in the block after it.
                return a =>
                {
                    var next = a.CreateLabel();
                    var skip = a.CreateLabel();
                    if (op < 4)
                        a.cmp(d, s);
                    else
                        Alu(a, op, d, s);
                    a.jmp(next);
                    a.Label(ref next);
                    Jcc(a, cc, skip);
                    a.inc(eax);
                    a.Label(ref skip);
                };
            default:
                // Forms the compiler runs through the interpreter's handler (or, last in a block, leaves to it).
                uint small = (uint)rng.Next(40);
                return rng.Next(7) switch
                {
                    0 => a => a.shl(d, 3),
                    1 => a => a.neg(d),
                    2 => a => a.movzx(d, __byte_ptr[ebx + 1]),
                    3 => a => a.sete(cl),
                    4 => a =>
                    {
                        a.mov(ecx, small);
                        a.rep.stosd(); // may fault part way, with ECX and EDI where the fault left them
                    },
                    5 => a => a.adc(d, s),
                    _ => a => a.imul(d, s),
                };
        }
    }

    private static void Alu(Assembler a, int op, AssemblerRegister32 d, AssemblerRegister32 s)
    {
        switch (op)
        {
            case 0: a.add(d, s); break;
            case 1: a.or(d, s); break;
            case 2: a.adc(d, s); break;
            case 3: a.sbb(d, s); break;
            case 4: a.and(d, s); break;
            case 5: a.sub(d, s); break;
            case 6: a.xor(d, s); break;
            default: a.cmp(d, s); break;
        }
    }

    private static void AluImm(Assembler a, int op, AssemblerRegister32 d, uint imm)
    {
        switch (op)
        {
            case 0: a.add(d, imm); break;
            case 1: a.or(d, imm); break;
            case 2: a.adc(d, imm); break;
            case 3: a.sbb(d, imm); break;
            case 4: a.and(d, imm); break;
            case 5: a.sub(d, imm); break;
            case 6: a.xor(d, imm); break;
            default: a.cmp(d, imm); break;
        }
    }

    private static void AluMem(Assembler a, int op, AssemblerRegister32 d, AssemblerMemoryOperand m)
    {
        switch (op)
        {
            case 0: a.add(d, m); break;
            case 1: a.or(d, m); break;
            case 2: a.adc(d, m); break;
            case 3: a.sbb(d, m); break;
            case 4: a.and(d, m); break;
            case 5: a.sub(d, m); break;
            case 6: a.xor(d, m); break;
            default: a.cmp(d, m); break;
        }
    }
}

using Iced.Intel;
using MiniHv.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// Two processors on two host threads over the same guest RAM, each running a loop of a million locked updates of
/// shared memory: every update must count, as on a multiprocessor PC. Plain read-modify-writes lose updates here.
/// </summary>
[TestFixture]
public class LockedAtomicityTests
{
    private const int Iterations = 1_000_000;
    private const uint Counter = 0x200000, SpinLock = 0x201000, Ready = 0x202000;

    /// <summary>
    /// Runs <paramref name="loop"/> (ESI = the iteration count, EDI = the processor's number, 0 or 1; then HLT) on
    /// two processors at once and returns the RAM they shared and the two processors.
    /// </summary>
    private static (FlatMemory Ram, MiniHv.Cpu.Cpu[] Cpus) RunOnTwoThreads(
        Action<Assembler> loop, Action<FlatMemory>? setUp = null, CpuTier tier = CpuTier.Interp, uint iterations = Iterations)
    {
        var ram = new FlatMemory(16 << 20);
        setUp?.Invoke(ram);
        var a = new Assembler(32);
        var top = a.CreateLabel();
        var wait = a.CreateLabel();

        // Both processors check in and wait for each other, so their loops overlap however late a host thread starts.
        a.@lock.inc(__dword_ptr[Ready]);
        a.Label(ref wait);
        a.cmp(__dword_ptr[Ready], 2);
        a.jne(wait);
        a.Label(ref top);
        loop(a);
        a.dec(esi);
        a.jne(top);
        a.hlt();
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), TestMachine.CodeBase);
        ram.Write(TestMachine.CodeBase, code.ToArray());

        var cpus = new MiniHv.Cpu.Cpu[2];
        for (int k = 0; k < 2; k++)
        {
            cpus[k] = new MiniHv.Cpu.Cpu(ram, new RecordingIo())
            {
                Eip = TestMachine.CodeBase,
                Esp = 0x80000 - ((uint)k * 0x1000),
                Esi = iterations,
                Edi = (uint)k,
                Tier = tier,
            };
            if (tier == CpuTier.Jit)
            {
                cpus[k].JitThreshold = 1;
                cpus[k].CompileInline = true;
            }
        }

        var stops = new StopReason[2];
        using var start = new Barrier(2);
        var threads = new Thread[2];
        for (int k = 0; k < 2; k++)
        {
            int n = k;
            threads[k] = new Thread(() =>
            {
                start.SignalAndWait();
                stops[n] = cpus[n].Run(200L * iterations);
            });
            threads[k].Start();
        }

        foreach (var t in threads)
            t.Join();
        Assert.That(stops, Is.All.EqualTo(StopReason.Halted), () => $"last faults {cpus[0].LastFault}, {cpus[1].LastFault}");
        return (ram, cpus);
    }

    private static void Release((FlatMemory Ram, MiniHv.Cpu.Cpu[] Cpus) run)
    {
        foreach (var c in run.Cpus)
            c.Dispose();
        run.Ram.Dispose();
    }

    [Test]
    public void LockInc_FromTwoThreads_CountsEveryIncrement()
    {
        var run = RunOnTwoThreads(a => a.@lock.inc(__dword_ptr[Counter]));
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2u * Iterations));
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void LockAdd_CompiledByTheJit_CountsEveryIncrement()
    {
        // add dword [mem], imm is a form the block compiler inlines when it is not locked. Compiled, a million
        // turns take a few milliseconds, less than a host thread may wait to run: so twenty million.
        const uint turns = 20 * Iterations;
        var run = RunOnTwoThreads(a => a.@lock.add(__dword_ptr[Counter], 1), tier: CpuTier.Jit, iterations: turns);
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2 * turns));
            Assert.That(run.Cpus.Select(c => c.InstructionsCompiled), Is.All.GreaterThan(turns), "the loop ran compiled");
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void LockXadd_FromTwoThreads_CountsEveryIncrement()
    {
        var run = RunOnTwoThreads(a =>
        {
            a.mov(eax, 3);
            a.@lock.xadd(__dword_ptr[Counter], eax);
        });
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2u * 3 * Iterations));
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void CmpxchgSpinIncrement_FromTwoThreads_CountsEveryIncrement()
    {
        var run = RunOnTwoThreads(a =>
        {
            var retry = a.CreateLabel();
            a.mov(eax, __dword_ptr[Counter]);
            a.Label(ref retry);
            a.lea(edx, __dword_ptr[eax + 1]);
            a.@lock.cmpxchg(__dword_ptr[Counter], edx); // on failure EAX holds the value another thread stored
            a.jne(retry);
        });
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2u * Iterations));
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void XchgSpinlock_ProtectsAPlainIncrement()
    {
        var run = RunOnTwoThreads(a =>
        {
            var acquire = a.CreateLabel();
            a.mov(eax, 1);
            a.Label(ref acquire);
            a.xchg(__dword_ptr[SpinLock], eax); // locked without the prefix; while the lock is held, EAX stays 1
            a.test(eax, eax);
            a.jne(acquire);
            a.inc(__dword_ptr[Counter]);        // a plain increment, inside the lock
            a.mov(__dword_ptr[SpinLock], 0);
        });
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2u * Iterations));
            Assert.That(run.Ram.Read32(SpinLock), Is.Zero);
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void LockIncByte_NeighboursInOneDword_EachCountsExactly()
    {
        // Each processor counts in a byte of its own and both in a shared byte, all in one dword: a byte update that
        // rewrote the whole dword without the compare-exchange would lose the other processor's updates.
        var run = RunOnTwoThreads(a =>
        {
            a.@lock.inc(__byte_ptr[edi + Counter]);
            a.@lock.inc(__byte_ptr[Counter + 2]);
        });
        try
        {
            Assert.That(run.Ram.Read8(Counter), Is.EqualTo((byte)(Iterations % 256)), "processor 0's byte");
            Assert.That(run.Ram.Read8(Counter + 1), Is.EqualTo((byte)(Iterations % 256)), "processor 1's byte");
            Assert.That(run.Ram.Read8(Counter + 2), Is.EqualTo((byte)(2 * Iterations % 256)), "the shared byte");
            Assert.That(run.Ram.Read8(Counter + 3), Is.Zero, "the untouched byte");
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void Cmpxchg8bIncrement_OfA64BitCounter_CountsEveryIncrementAndCarries()
    {
        const ulong start = 0xFFFFF000;
        var run = RunOnTwoThreads(
            a =>
            {
                var retry = a.CreateLabel();
                a.mov(eax, __dword_ptr[Counter]);
                a.mov(edx, __dword_ptr[Counter + 4]);
                a.Label(ref retry);
                a.mov(ebx, eax);
                a.mov(ecx, edx);
                a.add(ebx, 1);
                a.adc(ecx, 0);
                a.@lock.cmpxchg8b(__qword_ptr[Counter]);
                a.jne(retry);
            },
            ram => ram.Write64(Counter, start));
        try
        {
            Assert.That(run.Ram.Read64(Counter), Is.EqualTo(start + (2ul * Iterations)));
        }
        finally
        {
            Release(run);
        }
    }

    [TestCase(6u, TestName = "SplitLock_AcrossAnEightByteBoundary_CountsEveryIncrement")]
    [TestCase(0xFFEu, TestName = "SplitLock_AcrossAPageBoundary_CountsEveryIncrement")]
    public void SplitLock_CountsEveryIncrementAndIsCounted(uint offset)
    {
        var run = RunOnTwoThreads(a => a.@lock.add(__dword_ptr[Counter + offset], 1));
        try
        {
            Assert.That(run.Ram.Read32(Counter + offset), Is.EqualTo(2u * Iterations));
            Assert.That(run.Cpus.Select(c => c.SplitLocks), Is.All.EqualTo(Iterations));
        }
        finally
        {
            Release(run);
        }
    }

    [Test]
    public void AlignedLockedOperations_TakeNoSplitLock()
    {
        // Inside one dword, and across a dword boundary inside one qword: both are compare-exchanges.
        var run = RunOnTwoThreads(a =>
        {
            a.@lock.inc(__dword_ptr[Counter]);
            a.@lock.inc(__word_ptr[Counter + 11]);
        });
        try
        {
            Assert.That(run.Ram.Read32(Counter), Is.EqualTo(2u * Iterations));
            Assert.That(run.Ram.Read16(Counter + 11), Is.EqualTo((ushort)(2 * Iterations % 65536)));
            Assert.That(run.Cpus.Select(c => c.SplitLocks), Is.All.Zero);
        }
        finally
        {
            Release(run);
        }
    }
}

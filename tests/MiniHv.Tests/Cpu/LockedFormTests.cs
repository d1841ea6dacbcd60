using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// On one processor a locked read-modify-write must do exactly what the same instruction does without LOCK: the
/// same result, flags, registers, faults and instruction count, for every locked form and size, on an operand
/// inside a dword, across a dword, across 8 bytes (a split lock) and across a page.
/// </summary>
[TestFixture]
public class LockedFormTests
{
    private const uint RamBytes = 2 << 20;

    /// <summary>One instruction form: its name, and how to emit it on an operand of <c>size</c> bytes at an address.</summary>
    public sealed record Form(string Name, int Size, bool BitOffset, Action<Assembler, uint> Emit)
    {
        public override string ToString() => Name;
    }

    private static AssemblerMemoryOperand Mem(int size, uint address) => size switch
    {
        1 => __byte_ptr[address],
        2 => __word_ptr[address],
        4 => __dword_ptr[address],
        _ => __qword_ptr[address],
    };

    private static object Ecx(int size) => size switch
    {
        1 => cl,
        2 => cx,
        _ => (object)ecx,
    };

    /// <summary>Emit <paramref name="mnemonic"/> with these operands through the Iced assembler's method of that name.</summary>
    private static void Emit(Assembler a, string mnemonic, params object[] operands)
    {
        var method = typeof(Assembler).GetMethod(mnemonic, operands.Select(o => o.GetType()).ToArray())
            ?? throw new InvalidOperationException($"no Assembler.{mnemonic} for these operands");
        method.Invoke(a, operands);
    }

    private static IEnumerable<Form> Forms()
    {
        foreach (int size in new[] { 1, 2, 4 })
        {
            string width = size switch { 1 => "byte", 2 => "word", _ => "dword" };
            foreach (string op in new[] { "add", "or", "adc", "sbb", "and", "sub", "xor" })
            {
                yield return new Form($"{op} {width} [m], ecx", size, false, (a, m) => Emit(a, op, Mem(size, m), Ecx(size)));
                yield return new Form($"{op} {width} [m], imm", size, false, (a, m) => Emit(a, op, Mem(size, m), 0x71));
            }

            foreach (string op in new[] { "inc", "dec", "neg", "not" })
                yield return new Form($"{op} {width} [m]", size, false, (a, m) => Emit(a, op, Mem(size, m)));
            yield return new Form($"cmpxchg {width} [m], ecx", size, false, (a, m) => Emit(a, "cmpxchg", Mem(size, m), Ecx(size)));
            yield return new Form($"xadd {width} [m], ecx", size, false, (a, m) => Emit(a, "xadd", Mem(size, m), Ecx(size)));
            if (size == 1)
                continue;
            foreach (string op in new[] { "bts", "btr", "btc" })
            {
                yield return new Form($"{op} {width} [m], ecx", size, true, (a, m) => Emit(a, op, Mem(size, m), Ecx(size)));
                yield return new Form($"{op} {width} [m], imm", size, false, (a, m) => Emit(a, op, Mem(size, m), (byte)13));
            }
        }

        yield return new Form("cmpxchg8b [m]", 8, false, (a, m) => a.cmpxchg8b(__qword_ptr[m]));
    }

    // Inside a dword, across a dword inside 8 bytes, across 8 bytes, across a page.
    private static readonly uint[] Addresses = [0x9000, 0x9003, 0x9006, 0x9FFE];

    public static IEnumerable<TestCaseData> FormsAtAddresses()
        => from f in Forms()
           from address in Addresses
           select new TestCaseData(f, address).SetName($"Locked_{f.Name} at {address:x}_EqualsUnlocked");

    private static readonly (uint Memory, uint Register)[] Values =
    [
        (0, 0), (1, 0xFFFFFFFF), (0x7F, 1), (0x80, 0x80), (0x7FFF, 1), (0x8000, 0xFFFF),
        (0x7FFFFFFF, 1), (0x80000000, 0x80000000), (0x12345678, 0x9ABCDEF0), (0xFFFFFFFF, 0xFFFFFFFF),
    ];

    private static TestMachine Machine(Form form, uint address, bool locked)
    {
        var m = new TestMachine(RamBytes);
        m.Load(a =>
        {
            form.Emit(locked ? a.@lock : a, address);
            a.hlt();
        });
        return m;
    }

    /// <summary>Set the operand's neighbourhood, the registers and CF, run from the top, and return what a user sees.</summary>
    private static string RunOnce(TestMachine m, uint address, (uint Memory, uint Register) v, uint accumulator, bool carry, bool bitOffset)
    {
        for (uint b = address - 8; b < address + 16; b += 4)
            m.Memory.Write32(b, 0xA5A5A5A5 ^ b);
        m.Memory.Write32(address, v.Memory);
        m.Memory.Write32(address + 4, v.Register);
        var cpu = m.Cpu;
        cpu.Eip = TestMachine.CodeBase;
        cpu.Eax = accumulator;
        cpu.Ecx = bitOffset ? v.Register % 37 : v.Register; // a register bit offset stays near the operand
        cpu.Edx = v.Register;
        cpu.Ebx = 0x0BADF00D;
        cpu.Eflags = carry ? 0x3u : 0x2u;
        cpu.Wake(); // from the HLT that ended the run before
        long before = cpu.InstructionsExecuted;
        var stop = cpu.Run(100);
        Assert.That(cpu.InstructionsExecuted - before, Is.EqualTo(2), "the instruction and the HLT ran");
        var bytes = Enumerable.Range(-8, 24).Select(k => m.Memory.Read8((uint)(address + k)).ToString("x2"));
        return $"{stop} eflags {cpu.Eflags & Exec.ArithFlags:x} eax {cpu.Eax:x} ecx {cpu.Ecx:x} edx {cpu.Edx:x} ebx {cpu.Ebx:x}"
            + $" esi {cpu.Esi:x} edi {cpu.Edi:x} instructions {cpu.InstructionsExecuted - before} memory {string.Concat(bytes)}";
    }

    [TestCaseSource(nameof(FormsAtAddresses))]
    public void LockedForm_GivesTheUnlockedFormsResultsAndFlags(Form form, uint address)
    {
        using var plain = Machine(form, address, locked: false);
        using var locked = Machine(form, address, locked: true);
        foreach (var v in Values)
        {
            foreach (uint acc in new[] { v.Memory, v.Memory ^ 0x55555555 })
            {
                foreach (bool carry in new[] { false, true })
                {
                    string expected = RunOnce(plain, address, v, acc, carry, form.BitOffset);
                    string actual = RunOnce(locked, address, v, acc, carry, form.BitOffset);
                    Assert.That(actual, Is.EqualTo(expected), $"memory {v.Memory:x}, register {v.Register:x}, eax {acc:x}, CF {carry}");
                }
            }
        }

        // The locked form took the process-wide split lock exactly where its operand crossed 8 bytes. (A register
        // bit offset moves the operand, so those forms are left out of this count.)
        bool split = (address & 7) + (uint)form.Size > 8;
        if (!form.BitOffset)
            Assert.That(locked.Cpu.SplitLocks, Is.EqualTo(split ? Values.Length * 4 : 0));
    }

    private const uint P = PageTables.P, RW = PageTables.RW, US = PageTables.US;
    private const uint UserCode = 0x400000, UserStack = 0x7F000, Writable = 0x5FF000, ReadOnly = 0x600000, Unmapped = 0x800000;

    // A read-only page, a page not present, and an operand that starts on a writable page and ends on the read-only one.
    private static readonly uint[] FaultingAddresses = [ReadOnly + 0x10, Unmapped + 0x10, ReadOnly - 2];

    public static IEnumerable<TestCaseData> FormsOnPagesTheyCannotWrite()
        => from f in Forms()
           where f.Size is 4 or 8 || f.Name is "inc byte [m]" or "xadd word [m], ecx" or "btc word [m], ecx"
           from address in FaultingAddresses
           where address != ReadOnly - 2 || f.Size >= 4 // a shorter operand there stays on the writable page
           from paging in new[] { PagingMode.Walk, PagingMode.Shadow }
           select new TestCaseData(f, address, paging).SetName($"Locked_{f.Name} at {address:x} ({paging})_FaultsAsUnlocked");

    /// <summary>Run the form in ring 3 with paging on, and describe how it ended: the exception, its frame, CR2, registers and the memory.</summary>
    private static string RunInUserMode(Form form, uint address, PagingMode paging, bool locked)
    {
        using var m = new TestMachine(paging);
        var t = new SystemTables(m);
        var pt = new PageTables(m);
        pt.Map(UserCode, UserCode, P | US);
        pt.Map(UserStack, UserStack, P | RW | US);
        pt.Map(Writable, Writable, P | RW | US);
        pt.Map(ReadOnly, ReadOnly, P | US);
        m.Memory.Write64(ReadOnly - 8, 0x1122334455667788);
        m.Memory.Write64(ReadOnly, 0x99AABBCCDDEEFF00);
        m.Memory.Write64(ReadOnly + 0x10, 0xCAFEF00DDEADBEEF);
        m.Assemble(UserCode, a =>
        {
            form.Emit(locked ? a.@lock : a, address);
            a.hlt();
        });
        t.EnterUserMode(UserCode, UserStack);
        pt.Enable();
        m.Cpu.Eax = 0xDDEEFF00;
        m.Cpu.Ecx = 0x11111105;
        m.Cpu.Edx = 0x99AABBCC;
        m.Cpu.Eflags = 0x2 | MiniHv.Cpu.Cpu.CF;
        var stop = m.Cpu.Run(100);
        var c = m.Cpu;
        return $"{stop} vector {t.HaltedInVector()} frame {t.Stack(0):x} {t.Stack(1):x} {t.Stack(3) & Exec.ArithFlags:x} cr2 {c.Cr2:x}"
            + $" eax {c.Eax:x} ecx {c.Ecx:x} edx {c.Edx:x} ebx {c.Ebx:x} instructions {c.InstructionsExecuted}"
            + $" memory {m.Memory.Read64(ReadOnly - 8):x} {m.Memory.Read64(ReadOnly):x} {m.Memory.Read64(ReadOnly + 0x10):x}";
    }

    [TestCaseSource(nameof(FormsOnPagesTheyCannotWrite))]
    public void LockedForm_OnAPageItCannotWrite_FaultsAsTheUnlockedForm(Form form, uint address, PagingMode paging)
    {
        string expected = RunInUserMode(form, address, paging, locked: false);
        Assert.That(expected, Does.StartWith("Halted vector 14 "), "the unlocked form page-faults");
        Assert.That(RunInUserMode(form, address, paging, locked: true), Is.EqualTo(expected));
    }

    [Test]
    public void Xchg_WithMemory_SwapsEveryWidth_AtEveryAlignment()
    {
        foreach (uint address in Addresses)
        {
            using var m = new TestMachine(RamBytes);
            m.Memory.Write64(address, 0x8877665544332211);
            m.Memory.Write64(address + 8, 0xFFEEDDCCBBAA9988);
            m.Cpu.Eax = 0xA1A2A3A4;
            m.Cpu.Ecx = 0xC1C2C3C4;
            m.Cpu.Edx = 0xD1D2D3D4;
            var stop = m.Run(a =>
            {
                a.xchg(__dword_ptr[address], eax);
                a.xchg(__word_ptr[address + 4], cx);
                a.db([0x86, 0x15, .. BitConverter.GetBytes(address + 6)]); // xchg dl, [m]: the register-first spelling
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.Multiple(() =>
            {
                Assert.That(m.Memory.Read64(address), Is.EqualTo(0x88D4C3C4A1A2A3A4ul), $"memory at {address:x}");
                Assert.That(m.Memory.Read64(address + 8), Is.EqualTo(0xFFEEDDCCBBAA9988ul), "the bytes after are untouched");
                Assert.That((m.Cpu.Eax, m.Cpu.Ecx, m.Cpu.Edx), Is.EqualTo((0x44332211u, 0xC1C26655u, 0xD1D2D377u)));
            });
        }
    }

    [Test]
    public void LockedAdd_OnADevicePage_ReachesTheDeviceAsTheUnlockedFormDoes()
    {
        const uint device = 0x3000000; // beyond RAM: every access goes to the bus's unbacked path
        TestMachine Run(bool locked)
        {
            var m = new TestMachine(RamBytes);
            m.Cpu.Ecx = 5;
            var stop = m.Run(a =>
            {
                (locked ? a.@lock : a).add(__dword_ptr[device + 4], ecx);
                a.hlt();
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            return m;
        }

        using var plain = Run(false);
        using var locked = Run(true);
        Assert.That(locked.Memory.UnbackedReadLog, Is.EqualTo(plain.Memory.UnbackedReadLog).And.Not.Empty);
        Assert.That(locked.Memory.UnbackedWriteLog, Is.EqualTo(plain.Memory.UnbackedWriteLog).And.Not.Empty);
        Assert.That(locked.Cpu.Eflags & Exec.ArithFlags, Is.EqualTo(plain.Cpu.Eflags & Exec.ArithFlags));
    }
}

using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Sharing;

/// <summary>
/// Copy-on-write on every way a merged frame can be written: a plain store, a string instruction, the CPU
/// pushing a frame during an interrupt, the page walk setting an Accessed bit, a device writing guest memory,
/// and a store into code the CPU has decoded. Each time the writing guest gets a copy and the other
/// sharer keeps the old bytes.
/// </summary>
public class SharingWritePathTests
{
    private const uint P = PageTables.P, RW = PageTables.RW, A = PageTables.A;
    private const uint Target = 0x800000, FrameA = 0x600000;

    /// <summary>A shadow-MMU machine (guest A) and a second guest B on the same pool, and an engine over both.</summary>
    private sealed class World : IDisposable
    {
        public World()
        {
            M = new TestMachine(PagingMode.Shadow);
            T = new SystemTables(M);
            Pt = new PageTables(M);
            Pt.Map(Target, FrameA, P | RW);
            for (uint i = 0; i < 1024; i++)
                M.Memory.Write32(FrameA + (i * 4), 0xC0DE0000 + i);
            B = new GuestPhysicalMemory(Guest.Machine, 16 << 20);
            Engine = new SharingEngine(Guest.Machine, SharingPolicy.All);
            Engine.Add(Guest, "a", 0, () => true, () => 0);
            Engine.Add(B, "b", 0, () => true, () => 0);
        }

        public TestMachine M { get; }

        public SystemTables T { get; }

        public PageTables Pt { get; }

        public GuestPhysicalMemory Guest => M.Memory.Guest!;

        public GuestPhysicalMemory B { get; }

        public SharingEngine Engine { get; }

        /// <summary>Gives guest B a copy of guest A's frame <paramref name="gfn"/> (at the same gfn) and merges them.</summary>
        public void ShareWithB(uint gfn)
        {
            var bytes = new byte[4096];
            Guest.Read(gfn << 12, bytes);
            B.Write(gfn << 12, bytes);
            Engine.ScanFully();
            Assert.That(Guest.P2m.GetMfn(gfn), Is.EqualTo(B.P2m.GetMfn(gfn)), $"gfn {gfn:x} merged");
        }

        /// <summary>After the write: A has a private copy of <paramref name="gfn"/>, B still reads <paramref name="original"/>.</summary>
        public void AssertBrokenForAOnly(uint gfn, byte[] original)
        {
            Assert.That(Guest.P2m.IsWritable(gfn), "A's frame is private again");
            Assert.That(Guest.P2m.GetMfn(gfn), Is.Not.EqualTo(B.P2m.GetMfn(gfn)));
            var b = new byte[4096];
            B.Read(gfn << 12, b);
            Assert.That(b, Is.EqualTo(original), "B never sees A's write");
            Assert.That(Engine.Stats.CowBreaks, Is.GreaterThanOrEqualTo(1));
        }

        public byte[] Bytes(uint gfn)
        {
            var bytes = new byte[4096];
            Guest.Read(gfn << 12, bytes);
            return bytes;
        }

        public StopReason Run(Action<Assembler> code)
        {
            M.Load(a =>
            {
                code(a);
                a.hlt();
            });
            Pt.Enable(wp: true);
            return M.Cpu.Run(100_000);
        }

        public void Dispose()
        {
            B.Dispose();
            M.Dispose();
        }
    }

    [Test]
    public void PlainStore_BreaksTheSharing()
    {
        using var w = new World();
        byte[] original = w.Bytes(FrameA >> 12);
        w.ShareWithB(FrameA >> 12);
        var stop = w.Run(a =>
        {
            a.mov(eax, __dword_ptr[Target + 8]);
            a.mov(__dword_ptr[Target + 8], 0x1234);
            a.mov(ebx, __dword_ptr[Target + 8]);
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That((w.M.Cpu.Eax, w.M.Cpu.Ebx), Is.EqualTo((0xC0DE0002u, 0x1234u)));
        w.AssertBrokenForAOnly(FrameA >> 12, original);
    }

    [TestCase("lock add")]
    [TestCase("xchg")]
    [TestCase("lock cmpxchg8b")]
    [TestCase("lock add across 8 bytes")]
    public void LockedReadModifyWrite_BreaksTheSharing_AndLandsInThePrivateCopy(string form)
    {
        // A locked operation updates host memory with a compare-exchange: it must still take the hidden fault
        // first, and its update must land in A's copy, never in the frame B keeps.
        using var w = new World();
        byte[] original = w.Bytes(FrameA >> 12);
        w.ShareWithB(FrameA >> 12);
        var stop = w.Run(a =>
        {
            a.mov(eax, 0x1000);
            a.mov(ecx, 0xC0DE0002);
            a.xor(edx, edx);
            a.mov(ebx, 0x55);
            switch (form)
            {
                case "lock add": a.@lock.add(__dword_ptr[Target + 8], eax); break;
                case "xchg": a.xchg(__dword_ptr[Target + 8], eax); break;
                case "lock cmpxchg8b":
                    a.mov(eax, 0xC0DE0002);
                    a.mov(edx, 0xC0DE0003);
                    a.@lock.cmpxchg8b(__qword_ptr[Target + 8]);
                    break;
                default: a.@lock.add(__dword_ptr[Target + 6], eax); break;
            }

            a.mov(esi, __dword_ptr[form == "lock add across 8 bytes" ? Target + 6 : Target + 8]);
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{w.M.Cpu.LastFault}");
        uint expected = form switch
        {
            "lock add" => 0xC0DE1002,
            "xchg" => 0x1000,
            "lock cmpxchg8b" => 0x55,
            _ => 0x0002D0DE, // the dword at +6 is the top half of 0xC0DE0001 and the bottom half of 0xC0DE0002
        };
        Assert.That(w.M.Cpu.Esi, Is.EqualTo(expected), "A reads its own update");
        w.AssertBrokenForAOnly(FrameA >> 12, original);
    }

    [Test]
    public void StringInstruction_BreaksTheSharing()
    {
        using var w = new World();
        byte[] original = w.Bytes(FrameA >> 12);
        w.ShareWithB(FrameA >> 12);
        var stop = w.Run(a =>
        {
            a.mov(edi, Target + 0x100);
            a.mov(ecx, 64);
            a.mov(eax, 0x77777777);
            a.rep.stosd();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(w.Guest.ReadUInt32(FrameA + 0x100 + (63 * 4)), Is.EqualTo(0x77777777u));
        Assert.That(w.Guest.ReadUInt32(FrameA + 0x100 + (64 * 4)), Is.EqualTo(0xC0DE0000u + 0x40 + 64));
        w.AssertBrokenForAOnly(FrameA >> 12, original);
    }

    [Test]
    public void InterruptPushingOntoASharedStack_BreaksTheSharing()
    {
        using var w = new World();
        byte[] original = w.Bytes(FrameA >> 12);
        w.ShareWithB(FrameA >> 12);
        var stop = w.Run(a =>
        {
            a.mov(esp, Target + 0x800);
            a.@int(0x80);                 // the CPU pushes EFLAGS, CS, EIP onto the shared page
        });
        w.T.AssertHaltedIn(0x80, stop);
        Assert.That(w.Guest.ReadUInt32(FrameA + 0x800 - 8), Is.EqualTo((uint)SystemTables.KernelCode));
        w.AssertBrokenForAOnly(FrameA >> 12, original);
    }

    [Test]
    public void AccessedBitSetByThePageWalk_InASharedPageTable_BreaksTheSharing()
    {
        using var w = new World();
        uint table = w.Pt.Pde(Target) & 0xFFFFF000;
        Assert.That(w.Pt.Pte(Target) & A, Is.EqualTo(0u));
        byte[] original = w.Bytes(table >> 12);
        w.ShareWithB(table >> 12);
        var stop = w.Run(a => a.mov(eax, __dword_ptr[Target]));
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(w.M.Cpu.Eax, Is.EqualTo(0xC0DE0000u));
        Assert.That(w.Pt.Pte(Target) & A, Is.EqualTo(A), "the walk set Accessed in A's own copy of the table");
        w.AssertBrokenForAOnly(table >> 12, original);
    }

    [Test]
    public void DeviceWritingGuestMemory_BreaksTheSharing()
    {
        using var w = new World();
        byte[] original = w.Bytes(FrameA >> 12);
        w.ShareWithB(FrameA >> 12);
        w.Guest.Write(FrameA + 16, new byte[] { 1, 2, 3, 4 });   // as a DMA transfer would
        Assert.That(w.Guest.ReadUInt32(FrameA + 16), Is.EqualTo(0x04030201u));
        w.AssertBrokenForAOnly(FrameA >> 12, original);
    }

    [Test]
    public void StoreIntoSharedCodeTheCpuHasDecoded_BreaksTheSharing_AndTheNewCodeRuns()
    {
        using var w = new World();
        uint codeGfn = TestMachine.CodeBase >> 12;
        // Run the instruction once (so it is decoded from the shared frame), patch it, run it again.
        w.M.Assemble(TestMachine.CodeBase, a =>
        {
            var patched = a.CreateLabel();
            a.mov(esi, 0);
            a.Label(ref patched);
            a.mov(al, 0x11);                                        // at CodeBase + 5: B0 11
            a.cmp(esi, 1);
            var done = a.CreateLabel();
            a.je(done);
            a.mov(esi, 1);
            a.mov(__byte_ptr[TestMachine.CodeBase + 6], 0x42);      // patch the immediate
            a.jmp(patched);
            a.Label(ref done);
            a.hlt();
        });
        byte[] original = w.Bytes(codeGfn);
        w.ShareWithB(codeGfn);
        w.M.Cpu.Eip = TestMachine.CodeBase;
        w.Pt.Enable(wp: true);
        var stop = w.M.Cpu.Run(1000);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(w.M.Cpu.Eax & 0xFF, Is.EqualTo(0x42u), "the patched instruction ran, not its stale decode");
        w.AssertBrokenForAOnly(codeGfn, original);
    }
}

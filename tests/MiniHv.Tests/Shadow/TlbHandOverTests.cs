using Iced.Intel;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Shadow;

/// <summary>
/// More address spaces than the CPU has tagged TLB sets, all sharing the page tables of two slots (the code's and
/// Target's, as a kernel half is shared by every environment of a JOS-style kernel). A set handed from one space to
/// another keeps the entries of those slots, so the new space does not fill them again; and since such an entry may
/// have no shadow entry in its new space, a change of the shared table or of the new space's directory entry must
/// still reach it, as a real CR3 load would have emptied the TLB.
/// </summary>
public class TlbHandOverTests
{
    private const uint P = PageTables.P, RW = PageTables.RW, US = PageTables.US;
    private const uint Target = 0x800000, FrameA = 0x600000, FrameB = 0x601000, FrameC = 0x602000, FrameD = 0x603000;
    private const uint FirstDirectory = 0x40000, OtherTable = 0x3F000;

    /// <summary>Spaces besides the first: with it, more than <see cref="MiniHv.Cpu.Cpu.TlbSets"/>, so sets change hands.</summary>
    private const int OtherSpaces = 11;

    private static uint DirectoryOf(int space) => space == 0 ? PageTables.Directory : FirstDirectory + ((uint)(space - 1) * 0x1000);

    /// <summary>
    /// The first space maps Target to FrameA and Target + 4 KiB to FrameD; every other directory has the same entries for
    /// the first 4 MiB and for Target's slot. <see cref="OtherTable"/> maps Target to FrameB, for a directory entry changed later.
    /// </summary>
    private static (TestMachine M, PageTables Pt, SystemTables T) SpacesSharingTables()
    {
        var (m, t, pt) = ShadowMmuTests.Machine(); // FrameA, FrameB and FrameC at the same addresses as here
        m.Memory.Write32(FrameD, 0xDDDD0004);
        pt.Map(Target, FrameA, P | RW);
        pt.Map(Target + 0x1000, FrameD, P | RW);
        for (int s = 1; s <= OtherSpaces; s++)
        {
            uint d = DirectoryOf(s);
            m.Memory.Write32(d, pt.Pde(0));
            m.Memory.Write32(d + ((Target >> 22) * 4), pt.Pde(Target));
        }

        m.Memory.Write32(OtherTable + (((Target >> 12) & 0x3FF) * 4), FrameB | P | RW);
        return (m, pt, t);
    }

    private static StopReason Run(TestMachine m, PageTables pt, Action<Assembler> code, bool wp = false)
    {
        m.Load(a =>
        {
            code(a);
            a.hlt();
        });
        pt.Enable(wp);
        return m.Cpu.Run(1_000_000);
    }

    private static void Switch(Assembler a, int space)
    {
        a.mov(edx, DirectoryOf(space));
        a.mov(cr3, edx);
    }

    /// <summary>
    /// Every other space binds Target's slot by reading Target + 4 KiB, then INVLPG drops that entry (the slot stays
    /// bound, with no entry); the first space reads Target; then the other spaces are visited again, taking sets over,
    /// the first space's among them, with its entry for Target. No other space has a shadow entry for Target.
    /// </summary>
    private static void HandTargetsEntryToAnotherSpace(Assembler a)
    {
        for (int s = 1; s <= OtherSpaces; s++)
        {
            Switch(a, s);
            a.mov(eax, __dword_ptr[Target + 0x1000]);
            a.invlpg(__byte_ptr[Target + 0x1000]);
        }

        Switch(a, 0);
        a.mov(eax, __dword_ptr[Target]);
        for (int s = 1; s <= OtherSpaces; s++)
            Switch(a, s);
    }

    /// <summary>
    /// Visit every other space, the most recently used first (so the space holding the first space's old set reads before
    /// its set changes hands again), and add what it reads at Target into ESI.
    /// </summary>
    private static void SumTargetOverTheOtherSpaces(Assembler a)
    {
        a.xor(esi, esi);
        for (int s = OtherSpaces; s >= 1; s--)
        {
            Switch(a, s);
            a.add(esi, __dword_ptr[Target]);
        }
    }

    [Test]
    public void CyclingThroughMoreSpacesThanSets_KeepsTheSharedSlotsEntries()
    {
        var (m, pt, _) = SpacesSharingTables();
        using (m)
        {
            const int rounds = 20;
            var stop = Run(m, pt, a =>
            {
                var loop = a.CreateLabel();
                a.xor(esi, esi);
                a.mov(ecx, rounds);
                a.Label(ref loop);
                for (int s = 0; s <= OtherSpaces; s++)
                {
                    Switch(a, s);
                    a.add(esi, __dword_ptr[Target]);
                }

                a.dec(ecx);
                a.jnz(loop);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked((uint)(rounds * (OtherSpaces + 1)) * 0xAAAA0001u)));

            // 240 switches, nearly all to a space without a set of its own. Emptying the set at each would refill at
            // least the code page and Target's page every time (480 fills); kept, they are filled in the first round.
            Assert.That(m.Cpu.TlbFills, Is.LessThan(100), "the shared slots' entries survived the hand-overs");
        }
    }

    [Test]
    public void StoreToTheSharedTable_ReachesAnEntryKeptFromAnotherSpace()
    {
        var (m, pt, _) = SpacesSharingTables();
        using (m)
        {
            uint pte = pt.PteAddress(Target);
            var stop = Run(m, pt, a =>
            {
                HandTargetsEntryToAnotherSpace(a);
                a.mov(__dword_ptr[pte], FrameC | P | RW); // no INVLPG: each CR3 load below is the flush
                SumTargetOverTheOtherSpaces(a);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(OtherSpaces * 0xCCCC0003u)), "every space reads the new frame");
        }
    }

    [Test]
    public void StoreToTheDirectoryEntry_DropsAnEntryKeptFromAnotherSpace()
    {
        var (m, pt, _) = SpacesSharingTables();
        using (m)
        {
            var stop = Run(m, pt, a =>
            {
                HandTargetsEntryToAnotherSpace(a);
                for (int s = 1; s <= OtherSpaces; s++)
                    a.mov(__dword_ptr[DirectoryOf(s) + ((Target >> 22) * 4)], OtherTable | P | RW | US);
                SumTargetOverTheOtherSpaces(a);
            });
            Assert.That(stop, Is.EqualTo(StopReason.Halted), () => $"{m.Cpu.LastFault}");
            Assert.That(m.Cpu.Esi, Is.EqualTo(unchecked(OtherSpaces * 0xBBBB0002u)), "every space reads through its new table");
        }
    }

    [Test]
    public void DirectoryEntriesWithOtherBits_DoNotShareEntries()
    {
        // The last space reaches the shared table through a read-only directory entry: a store there must fault
        // (CR0.WP), even when its set comes from spaces whose entries let the store through.
        var (m, pt, t) = SpacesSharingTables();
        using (m)
        {
            m.Memory.Write32(DirectoryOf(OtherSpaces) + ((Target >> 22) * 4), (pt.Pde(Target) & ~RW) | P | US);
            var stop = Run(m, pt, a =>
            {
                Switch(a, OtherSpaces);
                a.mov(eax, __dword_ptr[Target]); // binds the slot: a read is allowed
                for (int s = 0; s < OtherSpaces; s++)
                {
                    Switch(a, s);
                    a.mov(__dword_ptr[Target], 0x22222222);
                }

                Switch(a, OtherSpaces);
                a.mov(ebx, 0x5AFE);
                a.mov(__dword_ptr[Target], 0x33333333);
            }, wp: true);
            t.AssertHaltedIn(Vectors.PF, stop);
            Assert.That(m.Cpu.Cr2, Is.EqualTo(Target));
            Assert.That(m.Cpu.Ebx, Is.EqualTo(0x5AFEu));
            Assert.That(m.Memory.Read32(FrameA), Is.EqualTo(0x22222222u), "the writable spaces stored, the read-only one did not");
        }
    }
}

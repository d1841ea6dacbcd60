using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Faults;

public class FaultEventBuilderTests
{
    private const uint Cr3 = 0x003fe000;

    private static FaultRecord Record(int vector, int errorCode, uint eip, uint cr2 = 0, int cpl = 3)
        => new(vector, errorCode, eip, cr2, Cr3, cpl, External: false);

    private static FaultEventBuilder Builder(FakeLinearMemory memory, DisassemblySyntax syntax = DisassemblySyntax.Gas)
        => new("jos-1", 1, memory.Reader, syntax);

    [Test]
    public void MovAcrossAPageBoundary_IsReadFromBothPagesAndDisassembledInGasSyntax()
    {
        const uint eip = 0xf0100fff;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.mov(edx, __dword_ptr[eax])));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.PF, 4, eip), instructions: 1234)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Kind, Is.EqualTo(FaultKind.PageFault));
            Assert.That(e.Instruction.HexBytes, Is.EqualTo("8b 10"));
            Assert.That(e.Instruction.Disassembly, Is.EqualTo("movl (%eax),%edx"));
            Assert.That(e.Access, Is.EqualTo(PageFaultAccess.Read));
            Assert.That(e.Instructions, Is.EqualTo(1234));
            Assert.That(FaultFormatter.Line(e), Is.EqualTo(
                "[jos-1] #PF at eip f0100fff: read of unmapped 00000000 (user, not-present) cr3 003fe000 movl (%eax),%edx -> guest"));
        });
    }

    [Test]
    public void InstructionRunningIntoAnUnmappedPage_KeepsTheBytesItHasAndReadsAsAFetchFault()
    {
        const uint eip = 0xf0100fff;
        var memory = new FakeLinearMemory().PutOnFirstPageOnly(eip, FakeLinearMemory.Assemble(eip, a => a.mov(edx, __dword_ptr[eax])));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.PF, 4, eip, cr2: 0xf0101000), 0)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Instruction.HexBytes, Is.EqualTo("8b"));
            Assert.That(e.Instruction.Disassembly, Is.Null);
            Assert.That(e.Access, Is.EqualTo(PageFaultAccess.Fetch), "CR2 is the instruction's second byte");
            Assert.That(FaultFormatter.Line(e), Is.EqualTo(
                "[jos-1] #PF at eip f0100fff: fetch from unmapped f0101000 (user, not-present) cr3 003fe000 (instruction unreadable after 1 byte) -> guest"));
        });
    }

    [Test]
    public void UnmappedEip_SaysTheInstructionIsUnavailable()
    {
        var memory = new FakeLinearMemory().Map(0x00800000);

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.PF, 4, 0x00a00020, cr2: 0x00a00020), 0)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Instruction.Bytes.Length, Is.Zero);
            Assert.That(e.Instruction.Disassembly, Is.Null);
            Assert.That(e.Instruction.Unavailable, Is.EqualTo("eip not mapped"));
            Assert.That(FaultFormatter.Line(e), Is.EqualTo(
                "[jos-1] #PF at eip 00a00020: fetch from unmapped 00a00020 (user, not-present) cr3 003fe000 (eip not mapped) -> guest"));
        });
    }

    [Test]
    public void Ud2_IsAnInvalidOpcodeFaultShownWithItsInstruction()
    {
        const uint eip = 0x00800030;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.ud2()));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.UD, -1, eip), 0)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Kind, Is.EqualTo(FaultKind.InvalidOpcode));
            Assert.That(e.Vector, Is.EqualTo(6));
            Assert.That(e.ErrorCode, Is.Null);
            Assert.That(e.PageFault, Is.Null);
            Assert.That(e.Instruction.HexBytes, Is.EqualTo("0f 0b"));
            Assert.That(FaultFormatter.Line(e), Is.EqualTo("[jos-1] #UD at eip 00800030: Invalid Opcode cr3 003fe000 ud2 -> guest"));
        });
    }

    [Test]
    public void BytesThatAreNoInstruction_DisassembleAsBad()
    {
        var memory = new FakeLinearMemory().Put(0x00800000, [0xFF, 0xFF, 0x90, 0x90]);

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.UD, -1, 0x00800000), 0)!;

        Assert.That(e.Instruction.Text, Is.EqualTo("(bad)"));
    }

    [TestCase(0x20)]
    [TestCase(0x30)]
    [TestCase(0xFF)]
    public void InterruptsAndSystemCalls_AreNoFaults(int vector)
    {
        var builder = Builder(new FakeLinearMemory());

        Assert.That(builder.FromRecord(Record(vector, -1, 0x00800000), 0), Is.Null);
    }

    [TestCase(0, "General Protection, error 0")]
    [TestCase(0x32, "General Protection, error 0x0032 (idt vector 0x06)")]
    [TestCase(0x0b, "General Protection, error 0x000b (idt vector 0x01, external)")]
    [TestCase(0x1c, "General Protection, error 0x001c (ldt selector 0x001c)")]
    [TestCase(0x28, "General Protection, error 0x0028 (gdt selector 0x0028)")]
    public void GeneralProtection_NamesWhatItsErrorCodePointsAt(int errorCode, string detail)
    {
        var memory = new FakeLinearMemory().Put(0xf0100000, FakeLinearMemory.Assemble(0xf0100000, a => a.iretd()));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.GP, errorCode, 0xf0100000, cpl: 0), 0)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Kind, Is.EqualTo(FaultKind.GeneralProtection));
            Assert.That(FaultFormatter.Detail(e), Is.EqualTo(detail));
            Assert.That(e.Instruction.Disassembly, Is.EqualTo("iretl"));
        });
    }

    [TestCase(Vectors.DE, FaultKind.DivideError, "#DE")]
    [TestCase(Vectors.BP, FaultKind.OtherException, "#BP")]
    [TestCase(Vectors.NM, FaultKind.OtherException, "#NM")]
    [TestCase(Vectors.DF, FaultKind.DoubleFault, "#DF")]
    [TestCase(Vectors.AC, FaultKind.OtherException, "#AC")]
    [TestCase(9, FaultKind.OtherException, "#9")]
    public void EveryExceptionBelow32_IsAFaultThatKeepsItsVector(int vector, FaultKind kind, string mnemonic)
    {
        FaultEvent e = Builder(new FakeLinearMemory()).FromRecord(Record(vector, -1, 0x00800000), 0)!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Kind, Is.EqualTo(kind));
            Assert.That(e.Vector, Is.EqualTo(vector));
            Assert.That(FaultFormatter.Name(e), Is.EqualTo(mnemonic));
            Assert.That(e.HandledBy, Is.EqualTo(FaultHandler.Guest));
        });
    }

    [Test]
    public void TripleFault_IsTheHypervisorsAndNamesTheFaultThatCouldNotBeDelivered()
    {
        const uint eip = 0xf010002c;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.@int(0x30)));

        FaultEvent e = Builder(memory).TripleFault(Record(Vectors.GP, 0x182, eip, cpl: 0), instructions: 99);

        Assert.Multiple(() =>
        {
            Assert.That(e.Kind, Is.EqualTo(FaultKind.TripleFault));
            Assert.That(e.HandledBy, Is.EqualTo(FaultHandler.Hypervisor));
            Assert.That(FaultFormatter.Line(e), Is.EqualTo(
                "[jos-1] triple fault at eip f010002c: #GP(0x0182) while delivering #DF, processor shut down cr3 003fe000 int $0x30 -> hypervisor"));
        });
    }

    [Test]
    public void CopyOnWriteBreak_LineNamesTheFrameAndTheAccess()
    {
        const uint eip = 0x00800040;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.mov(__dword_ptr[edx], eax)));
        var site = new HiddenFaultSite(Gfn: 0x123, Linear: 0x00801004, Eip: eip, Cr3: Cr3, Cpl: 3, Instructions: 5000);

        FaultEvent e = Builder(memory).Hidden(FaultKind.CopyOnWriteBreak, site, ordinal: 7);

        Assert.Multiple(() =>
        {
            Assert.That(e.Vector, Is.Null);
            Assert.That(e.Gfn, Is.EqualTo(0x123));
            Assert.That(e.Ordinal, Is.EqualTo(7));
            Assert.That(FaultFormatter.Line(e), Is.EqualTo(
                "[jos-1] cow break at eip 00800040: write to shared gfn 00123 at 00801004 cr3 003fe000 movl %eax,(%edx) -> hypervisor"));
        });
    }

    [TestCase(FaultKind.ZeroFrameBreak, "zero-frame break", "write to gfn 00042 on the zero frame")]
    [TestCase(FaultKind.PageTableWrite, "page-table write", "write to page-table gfn 00042")]
    [TestCase(FaultKind.AccessedDirtyUpdate, "A/D update", "accessed/dirty bit set in page-table gfn 00042")]
    public void HiddenFaultWithoutALinearAddress_SaysWhichFrame(FaultKind kind, string name, string detail)
    {
        var site = new HiddenFaultSite(Gfn: 0x42, Linear: null, Eip: 0x00100000, Cr3: Cr3, Cpl: 0, Instructions: 1);

        FaultEvent e = Builder(new FakeLinearMemory()).Hidden(kind, site);

        Assert.Multiple(() =>
        {
            Assert.That(FaultFormatter.Name(e), Is.EqualTo(name));
            Assert.That(FaultFormatter.Detail(e), Is.EqualTo(detail));
        });
    }

    [Test]
    public void CodeSegmentBase_IsAddedToEipToFindTheInstruction()
    {
        var memory = new FakeLinearMemory().Put(0x10000100, FakeLinearMemory.Assemble(0x100, a => a.ud2()));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.UD, -1, 0x100), 0, codeSegmentBase: 0x10000000)!;

        Assert.That(e.Instruction.Disassembly, Is.EqualTo("ud2"));
    }

    [Test]
    public void IntelSyntax_CanBeChosenInsteadOfGas()
    {
        const uint eip = 0xf0100000;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.mov(edx, __dword_ptr[eax])));

        FaultEvent e = Builder(memory, DisassemblySyntax.Intel).FromRecord(Record(Vectors.PF, 0, eip), 0)!;

        Assert.That(e.Instruction.Disassembly, Is.EqualTo("mov edx,[eax]"));
    }

    [Test]
    public void BranchTargets_AreShownAsAbsoluteAddressesFromEip()
    {
        const uint eip = 0xf0100010;
        var memory = new FakeLinearMemory().Put(eip, FakeLinearMemory.Assemble(eip, a => a.call(0xf0100200)));

        FaultEvent e = Builder(memory).FromRecord(Record(Vectors.PF, 2, eip, cr2: 0xefffdffc, cpl: 0), 0)!;

        Assert.That(e.Instruction.Disassembly, Is.EqualTo("calll 0xf0100200"), "a size suffix on every instruction, as on movl");
    }

    [Test]
    public void ReaderThatClaimsMoreThanItWasAskedFor_IsClampedNotTrusted()
    {
        var builder = new FaultEventBuilder("g", 0, (_, destination) => destination.Length + 100);

        FaultEvent e = builder.FromRecord(Record(Vectors.UD, -1, 0), 0)!;

        Assert.That(e.Instruction.Bytes.Length, Is.LessThanOrEqualTo(FaultDisassembler.MaxInstructionLength));
    }

    [Test]
    public void AnyRecordOverAnyBytes_NeverThrows()
    {
        var random = new Random(7);
        byte[] page = new byte[4096];
        random.NextBytes(page);
        var memory = new FakeLinearMemory().Put(0x00800000, page);
        var builder = Builder(memory);

        Assert.DoesNotThrow(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                uint eip = random.Next(4) == 0 ? (uint)random.NextInt64(0, 1L << 32) : 0x00800000 + (uint)random.Next(4096);
                var record = new FaultRecord(random.Next(-8, 300), random.Next(-2, 3) == 0 ? -1 : random.Next(), eip,
                    (uint)random.NextInt64(0, 1L << 32), (uint)random.NextInt64(0, 1L << 32), random.Next(-1, 5), random.Next(2) == 0);
                uint csBase = random.Next(3) == 0 ? (uint)random.NextInt64(0, 1L << 32) : 0;
                int bitness = random.Next(3) == 0 ? 16 : 32;
                if (builder.FromRecord(record, i, codeSegmentBase: csBase, bitness: bitness) is FaultEvent e)
                    _ = FaultLogEvents.ToLogEvent(e, default).RenderMessage();
                _ = FaultFormatter.Line(builder.TripleFault(record, i, codeSegmentBase: csBase, bitness: bitness));
            }
        });
    }
}

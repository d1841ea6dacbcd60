using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Faults;

public class PageFaultErrorCodeTests
{
    private const uint Eip = 0xf0100000;

    // A data access far from EIP, so the access kind comes from the error code alone.
    private static FaultEvent PageFault(int errorCode)
    {
        var memory = new FakeLinearMemory().Put(Eip, FakeLinearMemory.Assemble(Eip, a => a.mov(edx, __dword_ptr[eax])));
        var builder = new FaultEventBuilder("jos-1", 1, memory.Reader);
        return builder.FromRecord(new FaultRecord(Vectors.PF, errorCode, Eip, 0x00001234, 0x003fe000, 3, false), 0)!;
    }

    [TestCase(0b000, "read of unmapped 00001234 (supervisor, not-present)")]
    [TestCase(0b001, "read of protected 00001234 (supervisor, protection)")]
    [TestCase(0b010, "write to unmapped 00001234 (supervisor, not-present)")]
    [TestCase(0b011, "write to protected 00001234 (supervisor, protection)")]
    [TestCase(0b100, "read of unmapped 00001234 (user, not-present)")]
    [TestCase(0b101, "read of protected 00001234 (user, protection)")]
    [TestCase(0b110, "write to unmapped 00001234 (user, not-present)")]
    [TestCase(0b111, "write to protected 00001234 (user, protection)")]
    [TestCase(0b01001, "read of protected 00001234 (supervisor, protection, reserved bit)")]
    [TestCase(0b01111, "write to protected 00001234 (user, protection, reserved bit)")]
    [TestCase(0b10101, "fetch from protected 00001234 (user, protection, instruction fetch)")]
    [TestCase(0b10000, "fetch from unmapped 00001234 (supervisor, not-present, instruction fetch)")]
    [TestCase(0b11101, "fetch from protected 00001234 (user, protection, reserved bit, instruction fetch)")]
    public void PageFaultDetail_SpellsOutTheErrorCode(int errorCode, string detail)
    {
        Assert.That(FaultFormatter.Detail(PageFault(errorCode)), Is.EqualTo(detail));
    }

    [Test]
    public void EveryCombinationOfTheFiveBits_DecodesToItsOwnFlags([Range(0, 31)] int errorCode)
    {
        PageFaultErrorCode code = PageFault(errorCode).PageFault!.Value;

        Assert.Multiple(() =>
        {
            Assert.That(code.Value, Is.EqualTo(errorCode));
            Assert.That(code.Protection, Is.EqualTo((errorCode & 1) != 0), "P");
            Assert.That(code.Write, Is.EqualTo((errorCode & 2) != 0), "W/R");
            Assert.That(code.User, Is.EqualTo((errorCode & 4) != 0), "U/S");
            Assert.That(code.Reserved, Is.EqualTo((errorCode & 8) != 0), "RSVD");
            Assert.That(code.Fetch, Is.EqualTo((errorCode & 16) != 0), "I/D");
        });
    }

    [Test]
    public void UserReadOfASupervisorPage_ReadsAsProtectionInTheLine()
    {
        FaultEvent e = PageFault(5);

        Assert.That(FaultFormatter.Line(e), Is.EqualTo(
            "[jos-1] #PF at eip f0100000: read of protected 00001234 (user, protection) cr3 003fe000 movl (%eax),%edx -> guest"));
    }
}

using MiniHv.Cli.Qemu;
using MiniHv.Hv.Inspection;

namespace MiniHv.Tests.Cli;

/// <summary>
/// The monitor's <c>info mem</c>, <c>info tlb</c> and <c>x</c>/<c>xp</c> in the layouts qemu-system-i386 7.2 prints
/// (the expected lines are in the form QEMU printed for the JOS-style guest), on page tables built by hand.
/// </summary>
public class QemuMonitorFormatTests
{
    private const uint Cr3 = 0x1000;

    /// <summary>
    /// A page directory at 0x1000: ef000000 through a table at 0x2000 whose first two pages are user read-only
    /// (the first accessed) and whose third is user read-write; f0000000 a 4 MiB global supervisor page.
    /// </summary>
    private static GuestPhysicalWordReader Tables()
    {
        var words = new Dictionary<uint, uint>
        {
            [Cr3 + (0xef000000 >> 22) * 4] = 0x2000 | 0x7,
            [Cr3 + (0xf0000000 >> 22) * 4] = 0x00400000 | 0x100 | 0x80 | 0x3,
            [0x2000] = 0x178000 | 0x20 | 0x5,
            [0x2004] = 0x179000 | 0x5,
            [0x2008] = 0x17a000 | 0x40 | 0x7,
        };
        return (uint gpa, out uint word) => words.TryGetValue(gpa, out word) || true;
    }

    [Test]
    public void InfoMem_PrintsRunsOfEqualRights_In16DigitColumns()
    {
        Assert.That(QemuPageInfo.Mem(Cr3, pse: true, Tables()), Is.EqualTo(
            "00000000ef000000-00000000ef002000 0000000000002000 ur-\n"
            + "00000000ef002000-00000000ef003000 0000000000001000 urw\n"
            + "00000000f0000000-00000000f0400000 0000000000400000 -rw\n"));
    }

    [Test]
    public void InfoTlb_PrintsEveryPresentMapping_WithQemusNineFlagColumns()
    {
        Assert.That(QemuPageInfo.Tlb(Cr3, pse: true, Tables()), Is.EqualTo(
            "00000000ef000000: 0000000000178000 ----A--U-\n"
            + "00000000ef001000: 0000000000179000 -------U-\n"
            + "00000000ef002000: 000000000017a000 ---D---UW\n"
            + "00000000f0000000: 0000000000400000 -GP-----W\n"));
    }

    [Test]
    public void Examine_ShowsHexWithLeadingZeros_AndDecimalInQemusColumnWidths()
    {
        byte[] bytes = [0x02, 0xb0, 0xad, 0x1b, 0x03, 0, 0, 0];
        var dump = new QemuMemoryDump();
        Assert.That(dump.TryParse(["x/2wd", "0xf0100000"], _ => null, out uint at, out string error), Is.True, error);
        Assert.That(dump.Format(at, bytes, physical: false), Is.EqualTo("f0100000:  464367618          3\n"));
        Assert.That(dump.TryParse(["xp/3xb", "0x100000"], _ => null, out at, out error), Is.True, error);
        Assert.That(dump.Format(at, bytes, physical: true), Is.EqualTo("0000000000100000: 0x02 0xb0 0xad\n"));
    }

    [Test]
    public void Examine_StartsANewLineEvery16Bytes_AndSaysWhereMemoryEnds()
    {
        var dump = new QemuMemoryDump();
        Assert.That(dump.TryParse(["x/6wx", "$esp"], name => name == "esp" ? 0x1000u : null, out uint at, out string error), Is.True, error);
        Assert.That(dump.Format(at, new byte[20], physical: false), Is.EqualTo(
            "00001000: 0x00000000 0x00000000 0x00000000 0x00000000\n"
            + "00001010: 0x00000000\n"
            + "Cannot access memory at linear address 1014\n"));
    }
}

using MiniHv.Hv.Inspection;

namespace MiniHv.Tests.Inspection;

public class PageTableDumpTests
{
    private const string Legend =
        "flags: C copy-on-write (bit 11), G global, S 4 MiB page, D dirty, A accessed, N PCD, T PWT, U user, W writable, P present\n"
        + "virtual              entries      flags       physical           backing\n";

    private const uint P = 1, W = 2, U = 4, Pwt = 8, Pcd = 0x10, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, Cow = 0x800;

    [Test]
    public void IdentityMapped4MiBPage_IsOneDirectoryLineAndOneRun()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 0, 0x00000000 | PS | W | P);
        ram.Back(0, 0x3ff, FrameBacking.Private);

        Assert.That(ram.Dump(0x1000, pse: true), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages on\n" + Legend + """
            00000000-003fffff    pde 000      --S-----WP  00000000-003fffff
              00000000-003fffff  4 MiB        --S-----WP  00000000-003fffff  private

            """));
    }

    [Test]
    public void PsBitWithoutCr4Pse_IsIgnoredAndTheEntryWalkedAsATable()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 0, 0x00000000 | PS | W | P);

        Assert.That(ram.Dump(0x1000, pse: false), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages off\n" + Legend + """
            00000000-003fffff    pde 000      --S-----WP  table 00000000

            """), "frame 0 holds no present entry, so the table maps nothing");
    }

    [Test]
    public void JosLikeLayout_ShowsTheUserPageTheUvptSelfMapAndKernbaseSplitByBacking()
    {
        // This guest's memlayout.h: UVPT 0xef800000 (directory entry 0x3be), KERNBASE 0xf0000000 (0x3c0).
        const uint pgdir = 0x118000, kernTable = 0x119000, userTable = 0x11a000;
        var ram = new FakePhysicalMemory();
        ram.Entry(pgdir, 0x002, userTable | U | W | P);
        ram.Entry(userTable, 0, 0x00200000 | D | A | U | W | P);
        ram.Entry(pgdir, 0x3be, pgdir | U | P);
        ram.Entry(pgdir, 0x3c0, kernTable | W | P);
        for (uint i = 0; i < 1024; i++)
            ram.Entry(kernTable, i, (i << 12) | W | P);
        ram.Back(0, 0xff, FrameBacking.Private);
        ram.Back(0x118, 0x11a, FrameBacking.Private);
        ram.Back(0x200, 0x200, FrameBacking.Private);

        Assert.That(ram.Dump(pgdir, pse: false), Is.EqualTo(
            "cr3 00118000: page directory at 00118000, 4 MiB pages off\n" + Legend + """
            00800000-00bfffff    pde 002      -------UWP  table 0011a000
              00800000-00800fff  4 KiB        ---DA--UWP  00200000-00200fff  private
            ef800000-efbfffff    pde 3be      -------U-P  table 00118000
              ef802000-ef802fff  4 KiB        -------UWP  0011a000-0011afff  private
              efbbe000-efbbefff  4 KiB        -------U-P  00118000-00118fff  private
              efbc0000-efbc0fff  4 KiB        --------WP  00119000-00119fff  private
            f0000000-f03fffff    pde 3c0      --------WP  table 00119000
              f0000000-f00fffff  1 MiB        --------WP  00000000-000fffff  private
              f0100000-f0117fff  96 KiB       --------WP  00100000-00117fff  zero
              f0118000-f011afff  12 KiB       --------WP  00118000-0011afff  private
              f011b000-f01fffff  916 KiB      --------WP  0011b000-001fffff  zero
              f0200000-f0200fff  4 KiB        --------WP  00200000-00200fff  private
              f0201000-f03fffff  2044 KiB     --------WP  00201000-003fffff  zero

            """));
    }

    [Test]
    public void RunsSplitWhereFlagsChangeOrPhysicalPagesStopFollowingOn()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 0, 0x2000 | U | W | P);
        uint[] ptes =
        [
            0x100000 | W | P, 0x101000 | W | P, 0x102000 | W | P, 0x103000 | W | P,
            0x104000 | A | W | P,
            0x105000 | W | P, 0x106000 | W | P, 0x107000 | W | P,
            0x108000 | P,
            0x109000 | Cow | U | P,
            0x10a000 | G | W | P,
            0x10b000 | Pcd | Pwt | W | P,
            0x10c000 | W | P,
            0x300000 | W | P,
            0,
            0x10f000 | W | P,
            0x110000 | 0x200 | W | P, // available bit 9 is neither shown nor compared
        ];
        for (uint i = 0; i < ptes.Length; i++)
            ram.Entry(0x2000, i, ptes[i]);
        ram.Back(0x100, 0x3ff, FrameBacking.Private);

        Assert.That(ram.Dump(0x1000, pse: false), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages off\n" + Legend + """
            00000000-003fffff    pde 000      -------UWP  table 00002000
              00000000-00003fff  16 KiB       --------WP  00100000-00103fff  private
              00004000-00004fff  4 KiB        ----A---WP  00104000-00104fff  private
              00005000-00007fff  12 KiB       --------WP  00105000-00107fff  private
              00008000-00008fff  4 KiB        ---------P  00108000-00108fff  private
              00009000-00009fff  4 KiB        C------U-P  00109000-00109fff  private
              0000a000-0000afff  4 KiB        -G------WP  0010a000-0010afff  private
              0000b000-0000bfff  4 KiB        -----NT-WP  0010b000-0010bfff  private
              0000c000-0000cfff  4 KiB        --------WP  0010c000-0010cfff  private
              0000d000-0000dfff  4 KiB        --------WP  00300000-00300fff  private
              0000f000-00010fff  8 KiB        --------WP  0010f000-00110fff  private

            """));
    }

    [Test]
    public void RunsSplitWhereTheBackingChanges()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 1, 0x3000 | U | W | P);
        for (uint i = 0; i < 6; i++)
            ram.Entry(0x3000, i, (0x3fc000 + (i << 12)) | W | P);
        ram.Back(0x3fc, 0x3fc, FrameBacking.Private);
        ram.Back(0x3fd, 0x3fe, FrameBacking.Shared);

        Assert.That(ram.Dump(0x1000, pse: false), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages off\n" + Legend + """
            00400000-007fffff    pde 001      -------UWP  table 00003000
              00400000-00400fff  4 KiB        --------WP  003fc000-003fcfff  private
              00401000-00402fff  8 KiB        --------WP  003fd000-003fefff  shared
              00403000-00403fff  4 KiB        --------WP  003ff000-003fffff  zero
              00404000-00405fff  8 KiB        --------WP  00400000-00401fff  not RAM

            """));
    }

    [Test]
    public void KernbaseIn64LargePages_IsOneDirectoryLineSplitByBacking()
    {
        var ram = new FakePhysicalMemory();
        for (uint i = 0; i < 64; i++)
            ram.Entry(0x1000, 0x3c0 + i, (i << 22) | G | PS | W | P);
        ram.Back(0, 0xff, FrameBacking.Private);

        Assert.That(ram.Dump(0x1000, pse: true), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages on\n" + Legend + """
            f0000000-ffffffff    pde 3c0-3ff  -GS-----WP  00000000-0fffffff
              f0000000-f00fffff  1 MiB        -GS-----WP  00000000-000fffff  private
              f0100000-f03fffff  3 MiB        -GS-----WP  00100000-003fffff  zero
              f0400000-ffffffff  252 MiB      -GS-----WP  00400000-0fffffff  not RAM

            """));
    }

    [Test]
    public void KernbaseIn64PageTables_IsOneDirectoryLineWithRunsAcrossTables()
    {
        var ram = new FakePhysicalMemory();
        for (uint t = 0; t < 64; t++)
        {
            uint table = 0x200000 + (t << 12);
            ram.Entry(0x1000, 0x3c0 + t, table | W | P);
            for (uint i = 0; i < 1024; i++)
                ram.Entry(table, i, (((t << 10) + i) << 12) | W | P);
        }

        ram.Back(0, 0xff, FrameBacking.Private);
        ram.Back(0x200, 0x23f, FrameBacking.Private);

        Assert.That(ram.Dump(0x1000, pse: false), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages off\n" + Legend + """
            f0000000-ffffffff    pde 3c0-3ff  --------WP  64 tables
              f0000000-f00fffff  1 MiB        --------WP  00000000-000fffff  private
              f0100000-f01fffff  1 MiB        --------WP  00100000-001fffff  zero
              f0200000-f023ffff  256 KiB      --------WP  00200000-0023ffff  private
              f0240000-f03fffff  1792 KiB     --------WP  00240000-003fffff  zero
              f0400000-ffffffff  252 MiB      --------WP  00400000-0fffffff  not RAM

            """));
    }

    [Test]
    public void DirectoryEntriesMergeOnlyWhileTheirFlagsAreEqualAndTheirPagesFollowOn()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 0, 0x00000000 | PS | W | P);
        ram.Entry(0x1000, 1, 0x00400000 | A | PS | W | P);
        ram.Entry(0x1000, 2, 0x00800000 | PS | W | P);
        ram.Entry(0x1000, 3, 0x00c00000 | PS | W | P);
        ram.Entry(0x1000, 4, 0x02000000 | PS | W | P);

        string[] directoryLines = ram.Dump(0x1000, pse: true).Split('\n').Where(l => l.Length > 8 && l[8] == '-').ToArray();

        Assert.That(directoryLines, Is.EqualTo(new[]
        {
            "00000000-003fffff    pde 000      --S-----WP  00000000-003fffff",
            "00400000-007fffff    pde 001      --S-A---WP  00400000-007fffff",
            "00800000-00ffffff    pde 002-003  --S-----WP  00800000-00ffffff",
            "01000000-013fffff    pde 004      --S-----WP  02000000-023fffff",
        }));
    }

    [Test]
    public void EmptyDirectory_SaysSo()
    {
        Assert.That(new FakePhysicalMemory().Dump(0x1000, pse: true), Is.EqualTo(
            "cr3 00001000: page directory at 00001000, 4 MiB pages on\n" + Legend + "(no present page-directory entries)\n"));
    }

    [Test]
    public void DirectoryBeyondRam_IsReportedNotRead()
    {
        var ram = new FakePhysicalMemory();

        Assert.That(ram.Dump(0xfffff018, pse: true), Is.EqualTo("""
            cr3 fffff018: page directory at fffff000, 4 MiB pages on
            the page directory at fffff000 is not RAM

            """));
    }

    [Test]
    public void TableBeyondRamAndALargePageAtTheTopOfMemory_AreShownWithoutWalkingOutsideRam()
    {
        var ram = new FakePhysicalMemory();
        ram.Entry(0x1000, 0, 0x7ffff000 | U | W | P);
        ram.Entry(0x1000, 1, 0x7fffe000 | U | W | P);
        ram.Entry(0x1000, 0x3ff, 0xffc00000 | PS | W | P);

        string dump = ram.Dump(0x1000, pse: true);

        Assert.Multiple(() =>
        {
            Assert.That(dump, Is.EqualTo(
                "cr3 00001000: page directory at 00001000, 4 MiB pages on\n" + Legend + """
                00000000-003fffff    pde 000      -------UWP  table 7ffff000     not RAM
                00400000-007fffff    pde 001      -------UWP  table 7fffe000     not RAM
                ffc00000-ffffffff    pde 3ff      --S-----WP  ffc00000-ffffffff
                  ffc00000-ffffffff  4 MiB        --S-----WP  ffc00000-ffffffff  not RAM

                """));
            Assert.That(ram.WordsRead, Is.LessThan(1024 + 16), "the directory, and one probe per table");
        });
    }

    [TestCase(true, 1)]
    [TestCase(false, 1)]
    [TestCase(true, 2)]
    [TestCase(false, 3)]
    public void RandomBytesForTables_NeverThrow(bool pse, int seed)
    {
        var ram = new FakePhysicalMemory();
        ram.Scribble(0, 4 << 20, seed);

        string dump = "";
        Assert.DoesNotThrow(() => dump = ram.Dump((uint)new Random(seed).Next(), pse));
        Assert.That(dump, Does.StartWith("cr3 "));
    }
}

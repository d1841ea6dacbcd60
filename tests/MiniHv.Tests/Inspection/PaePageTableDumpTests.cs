using MiniHv.Hv.Inspection;

namespace MiniHv.Tests.Inspection;

public class PaePageTableDumpTests
{
    private const string Legend =
        "flags: X execute-disable (bit 63), C copy-on-write (bit 11), G global, S 2 MiB page, D dirty, A accessed, N PCD, T PWT, U user, W writable, P present\n"
        + "virtual              entries      flags       physical           backing\n";

    private const ulong P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80, NX = 1ul << 63;

    private static void Entry64(FakePhysicalMemory ram, uint table, uint index, ulong value)
    {
        ram.Write(table + (index * 8), (uint)value);
        ram.Write(table + (index * 8) + 4, (uint)(value >> 32));
    }

    [Test]
    public void PaeTables_ShowEachPdpte_2MiBPages_4KiBRuns_AndExecuteDisable()
    {
        const uint directory = 0x1000, table = 0x2000;
        var ram = new FakePhysicalMemory();
        Entry64(ram, directory, 0, 0x0020_0000 | PS | W | P);
        Entry64(ram, directory, 1, table | W | P);
        Entry64(ram, table, 0, 0x3000 | A | W | P);
        Entry64(ram, table, 1, 0x4000 | A | W | P);
        Entry64(ram, table, 2, 0x5000 | D | A | W | P | NX);
        Entry64(ram, table, 3, 0x1_2345_6000 | U | P);        // above 4 GiB: nothing there
        ram.Back(0, 0x3ff, FrameBacking.Private);
        ulong[] pdptes = [directory | P, 0, 0x0100_0000 | P, 0];

        string dump = PaePageTableDump.Format(0x20, pdptes, noExecute: true, ram.Reader, ram.Backing);

        Assert.That(dump, Is.EqualTo(
            "cr3 00000020: PAE, PDPT at 00000020 (the PDPTE registers below), execute-disable on\n" + Legend + """
            00000000-3fffffff    pdpte 0                  directory 00001000
            00000000-001fffff    pde 000      ---S-----WP  00200000-003fffff
              00000000-001fffff  2 MiB        ---S-----WP  00200000-003fffff  private
            00200000-003fffff    pde 001      ---------WP  table 00002000
              00200000-00201fff  8 KiB        -----A---WP  00003000-00004fff  private
              00202000-00202fff  4 KiB        X---DA---WP  00005000-00005fff  private
              00203000-00203fff  4 KiB        --------U-P  123456000-123456fff  not RAM
            40000000-7fffffff    pdpte 1                  not present
            80000000-bfffffff    pdpte 2                  directory 01000000  not RAM
            c0000000-ffffffff    pdpte 3                  not present

            """));
    }
}

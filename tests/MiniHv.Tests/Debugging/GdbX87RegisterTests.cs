using Iced.Intel;
using MiniHv.Hv.Debugging;
using MiniHv.Tests.Cli;
using MiniHv.Tests.Loader;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Debugging;

/// <summary>
/// The x87 registers through the stub: st0-st7 (st0 the top of the stack), fctrl, fstat, ftag and the last
/// instruction's pointers, read with 'p' and 'g' and written with 'P', against a guest that loaded 1 and pi.
/// </summary>
public class GdbX87RegisterTests
{
    private const uint Data = 0x200000;

    // 10-byte little-endian extended values: the significand (integer bit explicit), then sign and exponent.
    private const string Pi = "35c26821a2da0fc90040", One = "0000000000000080ff3f", TwoAndAHalf = "00000000000000a00040";

    /// <summary>FNINIT, FLD1, FLDPI, [loaded:] FSTP qword [Data], [stored:] CLI, HLT; the two labels' addresses.</summary>
    private static (string Image, uint Fldpi, uint Loaded, uint Stored) X87Kernel()
    {
        var a = new Assembler(32);
        Label fldpi = a.CreateLabel(), loaded = a.CreateLabel(), stored = a.CreateLabel();
        a.fninit();
        a.fld1();
        a.Label(ref fldpi);
        a.fldpi();
        a.Label(ref loaded);
        a.fstp(__qword_ptr[Data]);
        a.Label(ref stored);
        a.cli();
        a.hlt();
        var code = new MemoryStream();
        AssemblerResult result = a.Assemble(new StreamCodeWriter(code), TinyKernel.CodeBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        byte[] elf = new MultibootElfBuilder { Entry = TinyKernel.CodeBase }.AddSegment(TinyKernel.CodeBase, code.ToArray()).Build();
        return (CliRun.TempFile(elf, "x87.elf"), (uint)result.GetLabelRIP(fldpi), (uint)result.GetLabelRIP(loaded), (uint)result.GetLabelRIP(stored));
    }

    private static uint Word(string hex) => Convert.ToUInt32(hex[6..8] + hex[4..6] + hex[2..4] + hex[..2], 16);

    private static void RunTo(RspTestClient client, uint address)
    {
        Assert.That(client.Ask($"Z0,{address:x},1"), Is.EqualTo("OK"));
        client.Send("c");
        Assert.That(client.ReadAck(), Is.EqualTo('+'));
        Assert.That(client.ReadPacket(), Is.EqualTo("T05swbreak:;thread:1;"));
        Assert.That(client.Ask($"z0,{address:x},1"), Is.EqualTo("OK"));
    }

    [Test]
    public void AfterFld1AndFldpi_St0IsPiAndSt1IsOne_AndAWriteToSt0IsWhatFstpStores()
    {
        var kernel = X87Kernel();
        var run = new BackgroundRun("run", kernel.Image, "-m", "32M", "--gdb", "tcp::0", "-S");
        using (var client = new RspTestClient(run.Port))
        {
            Assert.That(client.Ask("?"), Is.EqualTo("T05thread:1;"));
            RunTo(client, kernel.Loaded);

            Assert.That(client.Ask("p10"), Is.EqualTo(Pi), "st0: the last value loaded, pi rounded to nearest");
            Assert.That(client.Ask("p11"), Is.EqualTo(One), "st1: 1.0");
            Assert.That(client.Ask("p12"), Is.EqualTo("00000000000000000000"), "st2: an empty register's contents");
            Assert.That(Word(client.Ask("p18")), Is.EqualTo(0x037Fu), "fctrl: FNINIT's control word");
            uint fstat = Word(client.Ask("p19"));
            Assert.That((fstat >> 11) & 7, Is.EqualTo(6u), "fstat's TOP: two pushes from 0");
            Assert.That(Word(client.Ask("p1a")), Is.EqualTo(0x0FFFu), "ftag: physical registers 6 (pi) and 7 (1.0) valid, the rest empty");
            Assert.That(Word(client.Ask("p1b")), Is.EqualTo(Word(client.Ask("pa"))), "fiseg: the code segment of FLDPI");
            Assert.That(Word(client.Ask("p1c")), Is.EqualTo(kernel.Fldpi), "fioff: FLDPI's address");
            Assert.That(Word(client.Ask("p1e")), Is.Zero, "fooff: no memory operand since FNINIT");
            Assert.That(Word(client.Ask("p1f")), Is.EqualTo(0x1EBu), "fop: FLDPI is D9 EB: the first byte's low 3 bits, then ModR/M");

            string all = client.Ask("g");
            Assert.That(all, Has.Length.EqualTo(2 * I386Registers.FileSize));
            Assert.That(all.Substring(16 * 8, 40), Is.EqualTo(Pi + One), "'g' carries st0 and st1 after the segment registers");
            Assert.That(all.Substring(16 * 8 + 8 * 20, 8), Is.EqualTo("7f030000"), "then fctrl");

            Assert.That(client.Ask("P10=" + TwoAndAHalf), Is.EqualTo("OK"));
            Assert.That(client.Ask("p10"), Is.EqualTo(TwoAndAHalf));
            RunTo(client, kernel.Stored);

            Assert.That(client.Ask($"m{Data:x},8"), Is.EqualTo("0000000000000440"), "FSTP stored 2.5, the value gdb wrote, as a double");
            Assert.That(client.Ask("p10"), Is.EqualTo(One), "popped: 1.0 is st0 again");
            Assert.That((Word(client.Ask("p19")) >> 11) & 7, Is.EqualTo(7u));
            Assert.That(Word(client.Ask("p1a")), Is.EqualTo(0x3FFFu), "physical register 6 is empty after the pop");
            Assert.That(Word(client.Ask("p1d")), Is.EqualTo(Word(client.Ask("pc"))), "foseg: FSTP's data segment, DS");
            Assert.That(Word(client.Ask("p1e")), Is.EqualTo(Data), "fooff: FSTP's operand");
            Assert.That(Word(client.Ask("p1f")), Is.EqualTo(0x51Du), "fop: DD 1D");

            // 'G' with what 'g' read, st0 changed: the stack as written, the rest as it was.
            string before = client.Ask("g");
            string changed = before[..(16 * 8)] + Pi + before[(16 * 8 + 20)..];
            Assert.That(client.Ask("G" + changed), Is.EqualTo("OK"));
            Assert.That(client.Ask("g"), Is.EqualTo(changed));
            Assert.That(client.Ask("P1a=ffff0000"), Is.EqualTo("OK"), "ftag: every register marked empty");
            Assert.That(Word(client.Ask("p1a")), Is.EqualTo(0xFFFFu));
            client.Send("k");
        }

        CliResult result = run.Finish();
        Assert.That(result.Error, Does.Contain("stopped"), result.ToString);
    }

    [Test]
    public void Gdb_InfoFloat_ShowsTheStack_AndSetVarOnSt0ReachesTheGuest()
    {
        GdbBatch.RequireGdb();
        var kernel = X87Kernel();
        var run = new BackgroundRun("run", kernel.Image, "-m", "32M", "--gdb", "tcp::0", "-S");
        string gdb = GdbBatch.Run(kernel.Image, run.Port,
            $"break *0x{kernel.Loaded:x}",
            "continue",
            "info float",
            "print $st1",
            "set var $st0 = -0.75",
            $"break *0x{kernel.Stored:x}",
            "continue",
            $"print *(double *) 0x{Data:x}",
            "info float",
            "kill");
        CliResult result = run.Finish();

        Assert.That(gdb, Does.Match(@"=>R6: Valid\s+0x4000c90fdaa22168c235 \+3\.14159265358979\d*"), gdb);
        Assert.That(gdb, Does.Match(@"  R7: Valid\s+0x3fff8000000000000000 \+1\s"), gdb);
        Assert.That(gdb, Does.Match(@"  R5: Empty\s+0x0{20}"), gdb);
        Assert.That(gdb, Does.Match(@"Status Word:\s+0x3000\s+TOP: 6"), gdb);
        Assert.That(gdb, Does.Match(@"Control Word:\s+0x037f\s+IM DM ZM OM UM PM"), gdb);
        Assert.That(gdb, Does.Contain("Tag Word:            0x0fff"), gdb);
        Assert.That(gdb, Does.Contain($"Instruction Pointer: 0x08:0x{kernel.Fldpi:x8}"), gdb);
        Assert.That(gdb, Does.Contain("Opcode:              0xd9eb"), gdb);
        Assert.That(gdb, Does.Contain("$1 = 1\n"), "print $st1");
        Assert.That(gdb, Does.Contain("$2 = -0.75\n"), "the guest's FSTP stored what gdb set");
        Assert.That(gdb, Does.Match(@"=>R7: Valid\s+0x3fff8000000000000000 \+1\s"), "popped: R7 on top");
        Assert.That(gdb, Does.Contain($"Operand Pointer:     0x10:0x{Data:x8}"), gdb);
        Assert.That(result.Error, Does.Contain("stopped"), result.ToString);
    }

    [Test]
    public void WithoutAnFpu_TheX87RegistersReadEmpty_AndRefuseWrites()
    {
        var kernel = X87Kernel();
        var run = new BackgroundRun("run", kernel.Image, "-m", "32M", "--cpu-features", "no-fpu", "--gdb", "tcp::0", "-S");
        using (var client = new RspTestClient(run.Port))
        {
            Assert.That(client.Ask("?"), Is.EqualTo("T05thread:1;"));
            string all = client.Ask("g");
            Assert.That(all, Has.Length.EqualTo(2 * I386Registers.FileSize), "described all the same: gdb's i386 core feature needs them");
            Assert.That(all.Substring(16 * 8, 8 * 20), Is.EqualTo(new string('0', 8 * 20)), "st0-st7");
            Assert.That(Word(client.Ask("p1a")), Is.EqualTo(0xFFFFu), "ftag: every register empty");
            Assert.That(Word(client.Ask("p18")), Is.Zero, "fctrl: no control word");
            Assert.That(client.Ask("P10=" + One), Is.EqualTo("E01"), "no register to hold it");
            Assert.That(client.Ask("P18=7f030000"), Is.EqualTo("E01"));
            client.Send("k");
        }

        CliResult result = run.Finish();
        Assert.That(result.Error, Does.Contain("stopped"), result.ToString);
    }

    [Test]
    public void TargetDescription_ListsTheX87RegistersInGdbsOrder()
    {
        string xml = TargetDescription.Xml;
        string[] names = ["gs", "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7", "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"];
        int at = 0;
        for (int k = 0; k < names.Length; k++)
        {
            int found = xml.IndexOf($"<reg name=\"{names[k]}\"", at, StringComparison.Ordinal);
            Assert.That(found, Is.GreaterThan(at - 1), $"{names[k]} after {(k > 0 ? names[k - 1] : "the start")}");
            at = found;
        }

        Assert.That(xml, Does.Contain("<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\" regnum=\"16\""));
        Assert.That(xml, Does.Contain("<reg name=\"fop\" bitsize=\"32\" type=\"int\" regnum=\"31\" group=\"float\""));
    }
}

using MiniHv.Hv.Loader;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// The PC test kernels of tests/kernels (mptable, lapic, ioapic, ide and the boot disk) through <c>minihv run</c>, as a
/// user runs them: each checks its device through the documented registers and prints verdicts, not timings.
/// </summary>
public class PcKernelTests
{
    private const string Limit = "50000000";

    [Test]
    public void MpTable_IsFoundInTheEbda_ChecksummedAndMatchesTheApics()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("mptable"), "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        string[] lines = r.Serial.Split('\n');
        Assert.That(lines[0], Is.EqualTo("mptable: EBDA segment 0x9fc0, base memory 639K"));
        Assert.That(lines[1], Is.EqualTo("mptable: floating pointer in the EBDA's first KiB, revision 1.4, checksum ok, feature byte 1 = 0"));
        Assert.That(lines[2], Does.StartWith("mptable: configuration table PCMP, ").And.Contain("checksum ok").And.EndWith("local APIC at 0xfee00000"));
        Assert.That(lines, Does.Contain("  processor: APIC ID 0, version 0x14, enabled, bootstrap, signature 0x52c"));
        Assert.That(lines, Does.Contain("  I/O APIC: ID 1, version 0x11, at 0xfec00000"));
        Assert.That(lines, Does.Contain("  I/O interrupt: INT, bus 0 IRQ 0 -> I/O APIC 1 pin 2"));
        Assert.That(lines, Does.Contain("  I/O interrupt: INT, bus 0 IRQ 14 -> I/O APIC 1 pin 14"));
        Assert.That(lines, Does.Contain("  local interrupt: ExtINT, -> LINT0 of APIC 0xff"));
        Assert.That(r.Serial, Does.EndWith("mptable: 1 processor, 1 I/O APIC, 15 I/O interrupts; local APIC ID 0, I/O APIC ID 1: ok\n"));
    }

    [Test]
    public void LapicTimer_OneShotAndPeriodic_FireAtTheProgrammedRate_AgainstThePit()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("lapic"), "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.EqualTo("""
            lapic: ID 0, version 0x14, 6 LVT entries
            lapic: LINT0 ExtINT, unmasked (the virtual wire), SVR 0x1ff
            lapic: ESR 0 after clearing
            pit: 1 kHz on IRQ 0 through the 8259A (auto-EOI) and LINT0: ticking
            one-shot: divide 1, count 10000000 = 10 ms: fired once after that long, current count then 0: ok
            one-shot: divide 16, count 625000 = 10 ms: fired once after that long, current count then 0: ok
            one-shot: divide 128, count 78125 = 10 ms: fired once after that long, current count then 0: ok
            periodic: divide 2, count 1000000 = 2 ms: 10 interrupts in that many periods, count reloads: ok
            periodic: divide 8, count 500000 = 4 ms: 5 interrupts in that many periods, count reloads: ok
            periodic: divide 1, count 3000000 = 3 ms: 4 interrupts in that many periods, count reloads: ok
            lapic: every timer fired at its programmed rate

            """.Replace("\r", "")));
    }

    [Test]
    public void IoApic_RoutesThePitAndTheUart_WithThePicsMasked()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("ioapic"), "--max-instructions", Limit], "via the io apic\n"u8.ToArray());
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.EqualTo("""
            ioapic: ID 1, version 0x11, 24 redirection entries
            ioapic: the MP table puts IRQ 0 on pin 2, IRQ 1 on pin 1, IRQ 4 on pin 4, IRQ 14 on pin 14
            pit: masked at reset; 5 ticks through pin 2 on vector 32
            pit: pin masked, 0 ticks in the next 50 ms
            keyboard and disk entries: 0x21 and 0x2e
            com1: type a line
            > via the io apic
            [via the io apic] through pin 4

            """.Replace("\r", "")));
    }

    /// <summary>An image of <paramref name="sectors"/> sectors whose bytes are (lba * 7 + i) mod 256, as ide.c expects.</summary>
    private static byte[] PatternDisk(int sectors)
    {
        var bytes = new byte[sectors * 512];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)(((i / 512) * 7) + (i % 512));
        return bytes;
    }

    [Test]
    public void Ide_ReadsAndWritesTheSlaveImage_WithInterruptsThroughTheIoApic_AndTheFileHoldsTheWrites()
    {
        string master = CliRun.TempFile(new byte[8 * 512], "master.img");
        byte[] original = PatternDisk(16);
        string slave = CliRun.TempFile(original, "slave.img");
        var r = CliRun.InProcess(["run", TestImages.TestKernel("ide"), "--hda", master, "--hdb", slave, "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.EqualTo("""
            ide: master: "MiniHv HARDDISK", 8 sectors
            ide: slave: "MiniHv HARDDISK", 16 sectors
            read sectors 1-3: 3 interrupts, data as the image holds it
            wrote sectors 4-5 and read them back: same
            write to sector 16, past the end: ERR, IDNF
            ide: ok

            """.Replace("\r", "")));

        byte[] after = File.ReadAllBytes(slave);
        Assert.That(after.Length, Is.EqualTo(original.Length), "a write past the end does not grow the file");
        for (int lba = 0; lba < 16; lba++)
        {
            for (int i = 0; i < 512; i++)
            {
                byte want = lba is 4 or 5 ? (byte)((lba * 13) + (3 * i) + 1) : original[(lba * 512) + i];
                Assert.That(after[(lba * 512) + i], Is.EqualTo(want), $"sector {lba} byte {i}");
            }
        }

        Assert.That(File.ReadAllBytes(master), Is.EqualTo(new byte[8 * 512]), "the master was only identified");
    }

    [Test]
    public void Ide_WithSnapshot_TheGuestSeesItsWrites_AndTheFileIsUntouched()
    {
        byte[] original = PatternDisk(16);
        string slave = CliRun.TempFile(original, "slave.img");
        var r = CliRun.InProcess(["run", TestImages.TestKernel("ide"), "--hdb", slave, "--snapshot", "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Does.Contain("ide: master: none\n").And.Contain("wrote sectors 4-5 and read them back: same\n").And.EndWith("ide: ok\n"));
        Assert.That(File.ReadAllBytes(slave), Is.EqualTo(original));
    }

    [Test]
    public void BootDisk_RealModeSector_ReadsStage2ThroughIde_OpensA20_EntersProtectedMode_AndBootsTheKernel()
    {
        // The same transcript as qemu-system-i386 -hda build/bootdisk.img prints after SeaBIOS's banner.
        var r = CliRun.InProcess(["run", "--hda", TestImages.TestKernelFile("bootdisk.img"), "--snapshot", "--max-instructions", Limit]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        // Where kmain is: the kernel on the disk is diskhello.elf, so its symbol says (the address moves when lib/ changes).
        uint kmain = ElfSymbols.Parse(File.ReadAllBytes(TestImages.TestKernel("diskhello"))).Named("kmain").Single().Value;
        Assert.That(r.Serial, Is.EqualTo($"""
            bootsect: real mode at 0000:7c00, stage 2 through the IDE ports
            stage2: protected mode, A20 open
            stage2: kernel loaded, entering it
            diskhello: booted from the disk, BIOS drive 0x80
            diskhello: CR0.PE 1, CR0.PG 0, running at 0x{kmain:x8}
            diskhello: A20 open
            diskhello: MP table found

            """.Replace("\r", "")));
    }
}

using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Debugging;

/// <summary>
/// The machine's real gdb, in batch mode, debugging the JOS-style guest (built with symbols) through
/// <c>minihv run --gdb tcp::0 -S</c>, as an OS student would after <c>make qemu-gdb</c>.
/// </summary>
public class GdbEndToEndTests
{
    [Test]
    public void Gdb_BreaksByName_ReadsRegistersAndMemory_Steps_Watches_WritesAVariable_AndRunsToTheEnd()
    {
        GdbBatch.RequireGdb();
        var run = new BackgroundRun("run", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "--gdb", "tcp::0", "-S");
        string gdb = GdbBatch.Run(TestImages.Jos, run.Port,
            "break i386_init",
            "continue",
            "info registers",
            "x/4wx &npages",
            "stepi",
            "stepi",
            "stepi",
            "info registers eip",
            // Code written through gdb runs as written: the decoded block at i386_init+3 (push %edi) is
            // dropped when a nop replaces it, so running it again from there leaves ESP alone.
            "printf \"esp before %x\\n\", $esp",
            "set {unsigned char}((char *) i386_init + 3) = 0x90",
            "set $pc = (char *) i386_init + 3",
            "stepi",
            "printf \"esp after %x\\n\", $esp",
            "set {unsigned char}((char *) i386_init + 3) = 0x57",
            "watch npages",
            "continue",
            "delete",
            "rwatch npages",
            "continue",
            "delete",
            "hbreak env_run",
            "continue",
            "x/4wx 0xf0000000",
            "monitor info pg",
            "delete",
            "set var show_ticks = 1",
            "print show_ticks",
            "monitor info pg",
            "monitor info sharing",
            "continue");
        var result = run.Finish();

        Assert.That(gdb, Does.Contain("Breakpoint 1, i386_init () at kern/init.c"), gdb);
        // Where i386_init is depends on the build: read it from the image's symbol table.
        uint init = Hv.Loader.ElfSymbols.Parse(File.ReadAllBytes(TestImages.Jos)).Named("i386_init").Single().Value;
        Assert.That(gdb, Does.Match($@"eip\s+0x{init:x8}\s+0x{init:x8} <i386_init>"), "info registers at the breakpoint");
        Assert.That(gdb, Does.Match(@"cs\s+0x8\s+8"), gdb);
        Assert.That(gdb, Does.Match(@"ss\s+0x10\s+16"), gdb);
        Assert.That(gdb, Does.Match(@"eflags\s+0x[0-9a-f]+\s+\[ [A-Z ]+\]"), "EFLAGS decoded by the target description's flag names");
        Assert.That(gdb, Does.Match(@"<npages>:\s+0x00000000\s+0x00000000\s+0x00000000\s+0x00000000"), "x/4wx before mem_init");
        Assert.That(gdb, Does.Match($@"eip\s+0x{init + 4:x8}\s+0x{init + 4:x8} <i386_init\+4>"), "three stepi: push, mov, push");
        var espBefore = System.Text.RegularExpressions.Regex.Match(gdb, "esp before ([0-9a-f]+)");
        Assert.That(espBefore.Success, gdb);
        Assert.That(gdb, Does.Contain($"esp after {espBefore.Groups[1].Value}\n"), "the nop ran, not the cached push");
        Assert.That(gdb, Does.Contain("Hardware watchpoint 2: npages"), gdb);
        Assert.That(gdb, Does.Match(@"Old value = 0\s+New value = 8160"), "32 MiB less the hole: the kernel's npages");
        Assert.That(gdb, Does.Contain("detect_memory () at kern/pmap.c"), "the watchpoint stops after the store, in the function that made it");
        Assert.That(gdb, Does.Match(@"Hardware read watchpoint 3: npages\s+Value = 8160"), "a read watchpoint: the next read of npages");
        Assert.That(gdb, Does.Match(@"Hardware assisted breakpoint 4 at 0xf[0-9a-f]{7}: file kern/env.c"), gdb);
        Assert.That(gdb, Does.Match(@"Breakpoint 4, env_run \(e=0xf[0-9a-f]+\) at kern/env.c"), "a hardware breakpoint (Z1)");
        Assert.That(gdb, Does.Contain("$1 = true"), gdb);
        Assert.That(gdb, Does.Contain("page tables at cr3"), "monitor info pg");
        Assert.That(gdb, Does.Match(@"0xf0000000:\s+0x[0-9a-f]{8}"), "x/4wx of a kernel page the kernel never touched");
        Assert.That(gdb, Does.Match(@"  f0000000-f[0-9a-f]{7}\s+\d+ KiB\s+--------WP"), "gdb's read left its PTE without the Accessed bit");
        Assert.That(gdb, Does.Match(@"private frames\s+\d+"), "monitor info sharing");
        Assert.That(gdb, Does.Contain("[Inferior 1 (Remote target) exited with code 01]"), gdb);

        Assert.That(result.Status, Is.EqualTo(1), result.ToString);
        Assert.That(result.Serial, Does.Contain("i am environment 00001000"), "the guest ran to its end");
        Assert.That(result.Serial, Does.Contain("timer ticks"), "set var show_ticks = 1 reached the guest: it printed its tick count");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Gdb_DebugsTheGuestGdbGuestNames_WhileTheOtherRunsToItsEnd(bool deterministic)
    {
        GdbBatch.RequireGdb();
        string[] mode = deterministic ? ["--deterministic"] : ["--threads", "2"];
        var run = new BackgroundRun(["run", TestImages.Jos, "--append", "prog=hello", "-m", "32M", "--count", "2", "--sharing", "all",
            "--gdb", "tcp::0", "-S", "--gdb-guest", "jos-2", .. mode]);
        string gdb = GdbBatch.Run(TestImages.Jos, run.Port,
            "break env_run",
            "continue",
            "monitor info sharing",
            "delete",
            "continue");
        var result = run.Finish();

        Assert.That(gdb, Does.Match(@"Breakpoint 1, env_run \(e=0xf[0-9a-f]+\) at kern/env.c"), gdb);
        Assert.That(gdb, Does.Contain("sharing engine          all"), gdb);
        Assert.That(gdb, Does.Contain("[Inferior 1 (Remote target) exited with code 01]"), gdb);
        Assert.That(result.Error, Does.Contain("for guest jos-2, held before its first instruction"), result.ToString);
        Assert.That(result.Serial, Does.Contain("[jos-1] [00001000] exiting gracefully").And.Contain("[jos-2] [00001000] exiting gracefully"));
        Assert.That(result.Status, Is.EqualTo(1), result.ToString);
    }
}

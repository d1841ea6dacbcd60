using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// tests/kernels/ideregs.c on <c>minihv run</c> prints the primary IDE channel's registers exactly as QEMU
/// did (tests/golden/ide, recorded by tests/golden/record-ide.sh) for each way the channel can be
/// populated: no drive, a master only, a slave only (xv6 booted by multiboot with its file system as
/// -hdb), both.
/// </summary>
public class IdeRegistersTests
{
    [TestCase("none")]
    [TestCase("master")]
    [TestCase("slave")]
    [TestCase("both")]
    public void ChannelRegisters_ReadAsOnQemu(string drives)
    {
        var args = new List<string> { "run", TestImages.TestKernel("ideregs"), "-m", "32M", "--max-instructions", "50000000" };
        if (drives is "master" or "both")
            args.AddRange(["--hda", CliRun.TempFile(new byte[1 << 20], "master.img")]);
        if (drives is "slave" or "both")
            args.AddRange(["--hdb", CliRun.TempFile(new byte[1 << 20], "slave.img")]);

        var r = CliRun.InProcess(args.ToArray());

        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("ide", "ideregs-" + drives)), r.ToString);
        Assert.That(r.Status, Is.EqualTo(1), "debug exit with 0 is QEMU's status 1");
    }
}

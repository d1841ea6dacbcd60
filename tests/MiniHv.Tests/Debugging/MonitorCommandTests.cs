using MiniHv.Tests.Cli;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Debugging;

/// <summary>The monitor's views without gdb: <c>minihv run --monitor COMMAND</c> on each guest when it stops.</summary>
public class MonitorCommandTests
{
    [Test]
    public void Monitor_PrintsEachGuestsPageTablesSharingAndFaults_WhenItStops()
    {
        CliResult r = CliRun.InProcess(["run", TestImages.Jos, "--append", "prog=faultread", "-m", "32M", "--sharing", "guest",
            "--monitor", "info pg", "--monitor", "info sharing", "--monitor", "info faults 1", "--monitor", "info registers",
            "--monitor", "info nothing"]);
        Assert.That(r.Error, Does.Contain("[jos] (monitor) info pg\npage tables at cr3 "), r.ToString);
        Assert.That(r.Error, Does.Match(@"\[f0000000-f[0-9a-f]{7}\]|f0000000"), "the kernel's mapping at KERNBASE");
        Assert.That(r.Error, Does.Contain("[jos] (monitor) info sharing\nguest frames            8192\n"));
        Assert.That(r.Error, Does.Contain("sharing engine          guest\n"));
        Assert.That(r.Error, Does.Match(@"guest faults, \d+ hidden; the last 1 kept:\n\[jos\] #PF at eip [0-9a-f]{8}: read of unmapped 00000000 \(user, not-present\)"),
            "faultread's null read, as --faults prints it");
        Assert.That(r.Error, Does.Contain("[jos] (monitor) info registers\nEAX="));
        Assert.That(r.Error, Does.Contain("unknown monitor command 'info nothing': try 'help'"));
    }
}

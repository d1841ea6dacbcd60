using MiniHv.Cli.Commands;

namespace MiniHv.Tests.Cli;

/// <summary><c>-smp N</c> / <c>--smp N</c>, <c>smp=N</c> per guest and the config key: QEMU's spellings of a processor count.</summary>
public class SmpOptionTests
{
    [TestCase("1", 1)]
    [TestCase("4", 4)]
    [TestCase("cpus=4", 4)]
    [TestCase("4,sockets=2,cores=2", 4)]
    [TestCase("sockets=2,cores=2,threads=2", 8)]
    [TestCase("2,maxcpus=2", 2)]
    [TestCase("16", 16)]
    public void QemuForms_GiveTheCount(string text, int expected)
    {
        Assert.That(SmpSpec.TryParse(text, out int n, out string error), Is.True, error);
        Assert.That(n, Is.EqualTo(expected));
    }

    [TestCase("0", "positive whole number")]
    [TestCase("17", "at most 16")]
    [TestCase("two", "positive whole number")]
    [TestCase("4,sockets=1,cores=2", "is 2, not the 4")]
    [TestCase("2,maxcpus=4", "no CPU hot-plug")]
    [TestCase("2,nodes=1", "unknown key 'nodes'")]
    public void Impossible_GiveAClearReason(string text, string why)
    {
        Assert.That(SmpSpec.TryParse(text, out _, out string error), Is.False);
        Assert.That(error, Does.Contain(why));
    }

    [Test]
    public void Run_RefusesAnImpossibleCount_WithAClearError()
    {
        var r = CliRun.InProcess(["run", EndToEnd.TestImages.TestKernel("hello"), "-smp", "17"]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        Assert.That(r.Error, Does.StartWith("minihv: ").And.Contain("at most 16"), r.ToString);
        Assert.That(r.Error, Does.Not.Contain("Exception"), "no stack trace");
    }

    [Test]
    public void GuestSpec_TakesSmp()
    {
        Assert.That(GuestSpec.TryParse("k.elf,smp=4,memory=64M", out GuestSpec? spec, out string error), Is.True, error);
        Assert.That(spec!.Processors, Is.EqualTo(4));
        Assert.That(GuestSpec.TryParse("k.elf,smp=0", out _, out error), Is.False);
        Assert.That(error, Does.StartWith("--guest 'k.elf,smp=0': "));
    }
}

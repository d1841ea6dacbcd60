using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary><c>minihv run --cpu-features</c>: the x87 FPU reported and usable by default, hidden with no-fpu.</summary>
public class CpuFeaturesOptionTests
{
    [Test]
    public void ByDefault_TheX87KernelRunsToItsQemuTranscript()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("x87"), "-m", "32M"]);
        Assert.That(r.Serial, Is.EqualTo(TestImages.Golden("kernels", "x87")), r.ToString);
        Assert.That(r.Status, Is.EqualTo(1));
    }

    [Test]
    public void NoFpu_HidesTheFpu_SoTheFirstX87InstructionIsAnInvalidOpcode()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("x87"), "-m", "32M", "--cpu-features", "no-fpu"]);
        Assert.That(r.Serial, Does.StartWith("unexpected trap: vector 6 "), r.ToString);
    }

    [Test]
    public void AnUnknownFeatureSet_IsABadOption()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("x87"), "--cpu-features", "sse"]);
        Assert.That(r.Status, Is.EqualTo(2));
        Assert.That(r.Error, Does.StartWith("minihv: "));
    }
}

using MiniHv.Hv.Faults;

namespace MiniHv.Tests.Faults;

public class FaultSamplingTests
{
    [TestCase("none", FaultSamplingMode.None, 0)]
    [TestCase("all", FaultSamplingMode.All, 0)]
    [TestCase("every:100", FaultSamplingMode.EveryNth, 100)]
    [TestCase("25/s", FaultSamplingMode.PerSecond, 25)]
    [TestCase(" ALL ", FaultSamplingMode.All, 0)]
    public void CommandLineSpelling_ParsesToItsRule(string text, FaultSamplingMode mode, int n)
    {
        Assert.That(FaultSampling.TryParse(text, out FaultSampling rule), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(rule.Mode, Is.EqualTo(mode));
            Assert.That(rule.N, Is.EqualTo(n));
            Assert.That(FaultSampling.TryParse(rule.ToString(), out FaultSampling again) && again == rule, Is.True, "ToString reads back");
        });
    }

    [TestCase("")]
    [TestCase(null)]
    [TestCase("some")]
    [TestCase("every:0")]
    [TestCase("every:-3")]
    [TestCase("every:")]
    [TestCase("0/s")]
    [TestCase("1e3/s")]
    [TestCase("99999999999/s")]
    public void AnythingElse_IsRejected(string? text)
    {
        Assert.That(FaultSampling.TryParse(text, out _), Is.False);
    }

    [Test]
    public void KindIds_ParseBackToTheirKinds()
    {
        foreach (FaultKind kind in FaultKinds.All)
        {
            Assert.That(FaultKinds.TryParseId(FaultKinds.Id(kind), out FaultKind parsed), Is.True, FaultKinds.Id(kind));
            Assert.That(parsed, Is.EqualTo(kind));
        }
    }
}

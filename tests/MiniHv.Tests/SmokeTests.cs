namespace MiniHv.Tests;

public class SmokeTests
{
    [Test]
    public void TestAssemblyLoads() => Assert.That(typeof(MiniHv.Cpu.IIoBus).Assembly.GetName().Name, Is.EqualTo("MiniHv.Cpu"));
}

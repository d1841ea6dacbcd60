using MiniHv.Cpu;

namespace MiniHv.Tests.Cpu;

/// <summary>
/// The compile thread's warm-up (CompilerWarmUp) is only worth its time if it meets the compiler's code for every
/// form it knows: its made-up blocks must compile whole, with no instruction left to the interpreter.
/// </summary>
[TestFixture]
public class CompilerWarmUpTests
{
    [Test]
    public void EveryWarmUpInstructionIsCompiled()
    {
        var (decoded, compiled) = CompilerWarmUp.Run(Compile);
        Assert.That(decoded, Is.GreaterThan(40), "the made-up blocks decoded");
        Assert.That(compiled, Is.EqualTo(decoded), "no instruction of the warm-up is left to the interpreter");
    }

    private static CompiledBlock? Compile(Block block, out bool reused)
    {
        reused = false;
        return BlockCompiler.Compile(block);
    }
}

using Iced.Intel;
using MiniHv.Tests.Loader;

namespace MiniHv.Tests.Cli;

/// <summary>A multiboot image whose only code is a snippet assembled by Iced at 1 MiB.</summary>
internal static class TinyKernel
{
    public const uint CodeBase = 0x100000;

    public static byte[] Build(Action<Assembler> code)
    {
        var a = new Assembler(32);
        code(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeBase);
        return new MultibootElfBuilder { Entry = CodeBase }.AddSegment(CodeBase, stream.ToArray()).Build();
    }
}

using Iced.Intel;
using MiniHv.Hv.Loader;

namespace MiniHv.Cli.Disassembly;

/// <summary>
/// Spells branch and call targets as objdump does, <c>f0100870 &lt;cprintf&gt;</c> or <c>f01004f5
/// &lt;i386_init+0x2c5&gt;</c>, in every syntax; immediates and displacements stay numbers, since a
/// constant that happens to equal an address is not a reference to it.
/// </summary>
internal sealed class BranchTargetResolver : ISymbolResolver
{
    private readonly ElfSymbols _image;

    public BranchTargetResolver(ElfSymbols image) => _image = image;

    public bool TryGetSymbol(in Instruction instruction, int operand, int instructionOperand, ulong address, int addressSize, out SymbolResult symbol)
    {
        if (instructionOperand < 0 || instruction.GetOpKind(instructionOperand) is not (OpKind.NearBranch16 or OpKind.NearBranch32))
        {
            symbol = default;
            return false;
        }

        string text = address <= uint.MaxValue && _image.CodeSymbolAt((uint)address) is ElfSymbol s
            ? $"{address:x} <{ImageListing.NameAt(s, (uint)address)}>"
            : $"{address:x}";
        symbol = new SymbolResult(address, text);
        return true;
    }
}

using Iced.Intel;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Loader;

namespace MiniHv.Cli.Disassembly;

/// <summary>
/// Writes an <c>objdump -d</c> style listing of an ELF image's 32-bit code: a <c>f0100230 &lt;i386_init&gt;:</c>
/// line where each code symbol starts, then a line per instruction with its address, optionally its bytes,
/// and the instruction, branch targets named by symbol. Not thread-safe (it holds one formatter).
/// </summary>
/// <remarks>Always decodes 32-bit code: 16-bit code (a real-mode boot sector or AP trampoline) comes out wrong.</remarks>
internal sealed class ImageListing
{
    /// <summary>objdump's habit: seven instruction bytes to a line, the rest of a longer instruction on the lines below.</summary>
    private const int BytesPerLine = 7;

    private readonly ElfSymbols _image;
    private readonly TextWriter _output;
    private readonly bool _showBytes;
    private readonly Formatter _formatter;
    private readonly StringOutput _text = new();
    private bool _wroteHeader;

    public ImageListing(ElfSymbols image, DisassemblySyntax syntax, bool showBytes, TextWriter output)
    {
        _image = image;
        _output = output;
        _showBytes = showBytes;
        _formatter = CreateFormatter(syntax, new BranchTargetResolver(image));
    }

    /// <summary><paramref name="symbol"/>'s name, or name+0xOFFSET for an address inside it.</summary>
    public static string NameAt(ElfSymbol symbol, uint address)
        => address == symbol.Value ? symbol.Name : $"{symbol.Name}+0x{address - symbol.Value:x}";

    /// <summary>
    /// Disassembles from virtual <paramref name="start"/> while below <paramref name="end"/> and the
    /// segment's file bytes last, at most <paramref name="maxCount"/> instructions; returns how many it wrote.
    /// </summary>
    /// <param name="symbol">The symbol the first header names (the one asked for), or null for the one holding <paramref name="start"/>.</param>
    public int Write(uint start, long end, int maxCount, ElfSymbol? symbol = null)
    {
        ReadOnlyMemory<byte> bytes = _image.BytesAt(start);
        end = Math.Min(end, (long)start + bytes.Length);
        var decoder = Decoder.Create(32, new MemoryCodeReader(bytes), start, DecoderOptions.None);
        if ((symbol ?? _image.CodeSymbolAt(start)) is ElfSymbol first)
            WriteHeader(start, first);

        int count = 0;
        while (count < maxCount && (long)decoder.IP < end)
        {
            uint address = (uint)decoder.IP;
            int at = (int)(address - start);
            if (count > 0 && _image.CodeSymbolStartingAt(address) is ElfSymbol next)
                WriteHeader(address, next);

            decoder.Decode(out Instruction instruction);
            count++;
            if (decoder.LastError == DecoderError.NoMoreBytes)
            {
                // The segment's file bytes end inside this instruction.
                WriteLine(address, bytes.Span[at..], "(truncated)");
                break;
            }

            string text = instruction.IsInvalid ? "(bad)" : Format(instruction);  // "(bad)": objdump's word for bytes that are no instruction
            WriteLine(address, bytes.Span.Slice(at, instruction.Length), text);
        }

        return count;
    }

    private void WriteHeader(uint address, ElfSymbol symbol)
    {
        if (_wroteHeader)
            _output.WriteLine();
        _wroteHeader = true;
        _output.WriteLine($"{address:x8} <{NameAt(symbol, address)}>:");
    }

    private void WriteLine(uint address, ReadOnlySpan<byte> code, string text)
    {
        if (!_showBytes)
        {
            _output.WriteLine($"{address:x8}:  {text}");
            return;
        }

        int first = Math.Min(code.Length, BytesPerLine);
        _output.WriteLine($"{address:x8}:  {Hex(code[..first]),-(BytesPerLine * 3 - 1)}  {text}");
        for (int i = first; i < code.Length; i += BytesPerLine)
            _output.WriteLine($"{address + (uint)i:x8}:  {Hex(code.Slice(i, Math.Min(BytesPerLine, code.Length - i)))}");
    }

    private string Format(in Instruction instruction)
    {
        _formatter.Format(instruction, _text);
        return _text.ToStringAndReset();
    }

    private static string Hex(ReadOnlySpan<byte> code) => string.Join(' ', code.ToArray().Select(b => b.ToString("x2")));

    private static Formatter CreateFormatter(DisassemblySyntax syntax, ISymbolResolver symbols)
    {
        Formatter formatter = syntax switch
        {
            DisassemblySyntax.Intel => new IntelFormatter(symbols),
            DisassemblySyntax.Nasm => new NasmFormatter(symbols),
            DisassemblySyntax.Masm => new MasmFormatter(symbols),
            _ => new GasFormatter(symbols),
        };

        // objdump -d's spelling, so a listing reads like the kernel.asm students know: a size suffix only
        // where no register gives the size (movl $0x0,(%esp)), an encoded zero displacement shown
        // (0x0(%esi)), operands from column 7, lowercase hex.
        formatter.Options.GasShowMnemonicSizeSuffix = false;
        formatter.Options.ShowZeroDisplacements = true;
        formatter.Options.FirstOperandCharIndex = 7;
        formatter.Options.SmallHexNumbersInDecimal = false;
        formatter.Options.UppercaseHex = false;
        if (syntax is DisassemblySyntax.Intel or DisassemblySyntax.Nasm)
        {
            // 0xf0104e40 as objdump -M intel and ndisasm print it, not Iced's 0f0104e40h (kept for MASM, whose own spelling it is).
            formatter.Options.HexPrefix = "0x";
            formatter.Options.HexSuffix = null;
        }

        return formatter;
    }

    /// <summary>Feeds Iced a segment's bytes without copying them.</summary>
    private sealed class MemoryCodeReader : CodeReader
    {
        private readonly ReadOnlyMemory<byte> _bytes;
        private int _next;

        public MemoryCodeReader(ReadOnlyMemory<byte> bytes) => _bytes = bytes;

        public override int ReadByte() => _next < _bytes.Length ? _bytes.Span[_next++] : -1;
    }
}

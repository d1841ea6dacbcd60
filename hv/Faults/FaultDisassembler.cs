using Iced.Intel;

namespace MiniHv.Hv.Faults;

/// <summary>
/// Reads the instruction at a faulting EIP quietly and disassembles it with Iced. One per guest: the
/// formatter it holds is not thread-safe.
/// </summary>
public sealed class FaultDisassembler
{
    /// <summary>The longest x86 instruction (Intel SDM vol. 2, 2.3.11): more bytes than this are never read.</summary>
    public const int MaxInstructionLength = 15;

    private readonly GuestLinearReader _read;
    private readonly Formatter _formatter;
    private readonly StringOutput _output = new();

    /// <param name="read">Reads guest linear memory without side effects.</param>
    /// <param name="syntax">How instructions are spelled; GNU as (AT&amp;T) by default.</param>
    public FaultDisassembler(GuestLinearReader read, DisassemblySyntax syntax = DisassemblySyntax.Gas)
    {
        ArgumentNullException.ThrowIfNull(read);
        _read = read;
        _formatter = CreateFormatter(syntax);
    }

    /// <summary>The instruction at CS:EIP.</summary>
    /// <param name="eip">The faulting instruction's offset in its code segment; also the address branch targets are shown from.</param>
    /// <param name="codeSegmentBase">CS's base (0 for the flat segments of JOS and xv6): the bytes are read at base + EIP.</param>
    /// <param name="bitness">32 for a 32-bit code segment, 16 for a 16-bit one.</param>
    public FaultInstruction At(uint eip, uint codeSegmentBase = 0, int bitness = 32)
    {
        Span<byte> buffer = stackalloc byte[MaxInstructionLength];
        int read = Read(eip, codeSegmentBase, buffer);
        return Decode(buffer[..read], eip, bitness);
    }

    /// <summary>Read up to <paramref name="buffer"/>'s length of bytes at CS:EIP, without decoding them; returns how many.</summary>
    public int Read(uint eip, uint codeSegmentBase, Span<byte> buffer)
        => Math.Clamp(_read(unchecked(codeSegmentBase + eip), buffer[..Math.Min(buffer.Length, MaxInstructionLength)]), 0,
            Math.Min(buffer.Length, MaxInstructionLength));

    /// <summary>Disassemble <paramref name="bytes"/>, the readable bytes at EIP (fewer than 15 when the next page is not mapped).</summary>
    public FaultInstruction Decode(ReadOnlySpan<byte> bytes, uint eip, int bitness = 32)
    {
        if (bytes.IsEmpty)
            return new FaultInstruction(ReadOnlyMemory<byte>.Empty, null, "eip not mapped");

        byte[] code = bytes.ToArray();
        var decoder = Decoder.Create(bitness == 16 ? 16 : 32, code, eip, DecoderOptions.None);
        decoder.Decode(out Instruction instruction);
        if (decoder.LastError == DecoderError.NoMoreBytes)
        {
            string unit = code.Length == 1 ? "byte" : "bytes";
            return new FaultInstruction(code, null, $"instruction unreadable after {code.Length} {unit}");
        }

        if (instruction.IsInvalid)
            return new FaultInstruction(code, "(bad)", null); // objdump's word for bytes that are no instruction

        _formatter.Format(instruction, _output);
        return new FaultInstruction(code.AsMemory(0, instruction.Length), _output.ToStringAndReset(), null);
    }

    private static Formatter CreateFormatter(DisassemblySyntax syntax)
    {
        Formatter formatter = syntax switch
        {
            DisassemblySyntax.Intel => new IntelFormatter(),
            DisassemblySyntax.Nasm => new NasmFormatter(),
            DisassemblySyntax.Masm => new MasmFormatter(),
            _ => new GasFormatter(),
        };

        // objdump's habits: "movl" rather than "mov", "0x0" rather than "0", and lowercase hex like every
        // other number we print.
        formatter.Options.GasShowMnemonicSizeSuffix = true;
        formatter.Options.SmallHexNumbersInDecimal = false;
        formatter.Options.UppercaseHex = false;
        return formatter;
    }
}

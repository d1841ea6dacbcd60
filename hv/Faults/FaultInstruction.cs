namespace MiniHv.Hv.Faults;

/// <summary>The instruction a fault names, as far as its bytes could be read: the bytes, and their disassembly.</summary>
/// <param name="Bytes">
/// The instruction's bytes when it decoded; otherwise every byte that could be read at EIP (up to 15), which
/// may be none.
/// </param>
/// <param name="Disassembly">The instruction as text ("movl (%eax),%edx", "(bad)" for bytes that are no instruction), or null when it could not be read.</param>
/// <param name="Unavailable">Why there is no disassembly ("eip not mapped", ...), or null when there is one.</param>
public sealed record FaultInstruction(ReadOnlyMemory<byte> Bytes, string? Disassembly, string? Unavailable)
{
    /// <summary>Nothing was read: the instruction is not asked for (some hidden faults) or not known.</summary>
    public static FaultInstruction None { get; } = new(ReadOnlyMemory<byte>.Empty, null, "no instruction");

    /// <summary>What a log line shows: the disassembly, or the reason in parentheses.</summary>
    public string Text => Disassembly ?? $"({Unavailable})";

    /// <summary>The bytes as lowercase hex pairs separated by spaces, as objdump prints them: "8b 10".</summary>
    public string HexBytes
    {
        get
        {
            ReadOnlySpan<byte> bytes = Bytes.Span;
            var text = new System.Text.StringBuilder(bytes.Length * 3);
            foreach (byte b in bytes)
            {
                if (text.Length > 0)
                    text.Append(' ');
                text.Append(b.ToString("x2"));
            }

            return text.ToString();
        }
    }
}

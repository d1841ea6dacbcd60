using Iced.Intel;

namespace MiniHv.Cpu;

/// <summary>
/// Compiles a few made-up blocks that use every form the block compiler knows, once, when the compile thread
/// starts. Why: .NET keeps its tier-up of the interpreter's own methods waiting while methods are being called
/// for the first time anywhere in the process (its call-counting delay, 100 ms, started again by each first
/// call). Compiling real blocks one by one, the compile thread meets the emitter's and System.Reflection.Emit's
/// methods for the first time over the first second of a run, block after block, and so keeps the interpreter
/// in its ReadyToRun and instrumented code for that long (docs/performance.md, "Block compiler as the default",
/// seventh session). Meeting them all at once at the start ends that within the run's own start-up.
/// The blocks are compiled, never run; their code is dropped.
/// </summary>
internal static unsafe class CompilerWarmUp
{
    // 32-bit machine code, each array one block as the decoder would cut it (the last instruction ends it).
    private static readonly byte[][] Blocks =
    [
        [
            0x90, // nop
            0x89, 0xD8, // mov eax, ebx
            0xB9, 0x78, 0x56, 0x34, 0x12, // mov ecx, 0x12345678
            0x8B, 0x43, 0x04, // mov eax, [ebx+4]
            0x89, 0x43, 0x08, // mov [ebx+8], eax
            0xC7, 0x43, 0x0C, 0x01, 0x00, 0x00, 0x00, // mov dword [ebx+12], 1
            0x8D, 0x44, 0x8B, 0x10, // lea eax, [ebx+ecx*4+16]
            0x01, 0xD8, 0x29, 0xD8, 0x21, 0xD8, 0x09, 0xD8, 0x31, 0xD8, // add/sub/and/or/xor eax, ebx
            0x39, 0xD8, 0x85, 0xD8, // cmp eax, ebx; test eax, ebx
            0x83, 0xC0, 0x05, 0x83, 0xE8, 0x05, 0x83, 0xE0, 0x05, // add/sub/and eax, 5
            0x83, 0xC8, 0x05, 0x83, 0xF0, 0x05, 0x83, 0xF8, 0x05, // or/xor/cmp eax, 5
            0xF7, 0xC1, 0x00, 0x01, 0x00, 0x00, // test ecx, 0x100
            0x03, 0x43, 0x04, 0x3B, 0x43, 0x04, 0x23, 0x43, 0x04, // add/cmp/and eax, [ebx+4]
            0x39, 0x43, 0x04, // cmp [ebx+4], eax
            0x81, 0x7B, 0x04, 0x00, 0x10, 0x00, 0x00, // cmp dword [ebx+4], 0x1000
            0x01, 0x43, 0x04, // add [ebx+4], eax
            0x83, 0x43, 0x04, 0x05, // add dword [ebx+4], 5
            0x40, 0x48, // inc eax; dec eax
            0xC1, 0xE0, 0x03, 0xC1, 0xE8, 0x03, 0xC1, 0xF8, 0x03, 0xC1, 0xC0, 0x03, // shl/shr/sar/rol eax, 3
            0xF7, 0xE3, // mul ebx (a helper call)
            0x75, 0x95, // jnz back to the block's start: a block that loops in place
        ],
        [
            0x53, 0x6A, 0x05, 0x68, 0x00, 0x10, 0x00, 0x00, // push ebx; push 5; push 0x1000
            0x5B, 0x59, 0x59, // pop ebx; pop ecx; pop ecx
            0xE8, 0x00, 0x01, 0x00, 0x00, // call +0x100
        ],
        [0x5B, 0xC3], // pop ebx; ret
        [0x89, 0xD8, 0xEB, 0x10], // mov eax, ebx; jmp +0x10
        [0x49, 0xE2, 0xFD], // dec ecx; loop back
        [0x83, 0xF9, 0x00, 0x74, 0x10], // cmp ecx, 0; jz +0x10
    ];

    /// <summary>
    /// Compile every made-up block on the calling thread (the compile thread), dropping the code. Returns the
    /// instructions decoded and those compiled: equal while the compiler knows every form used here.
    /// </summary>
    public static (int Decoded, int Compiled) Run()
    {
        int decoded = 0, compiled = 0;
        foreach (byte[] code in Blocks)
        {
            Block block = Decode(code);
            decoded += block.Count;
            compiled += BlockCompiler.Compile(block)?.Count ?? 0;
        }

        return (decoded, compiled);
    }

    private static Block Decode(byte[] code)
    {
        var decoder = Decoder.Create(32, new ByteArrayCodeReader(code), 0, DecoderOptions.NoInvalidCheck);
        var insns = new Insn[code.Length];
        int count = 0;
        while (decoder.IP < (ulong)code.Length)
        {
            uint offset = (uint)decoder.IP;
            decoder.Decode(out Instruction ins);
            ref Insn insn = ref insns[count++];
            insn = default;
            insn.Offset = (ushort)offset;
            insn.NextOffset = (ushort)(offset + (uint)ins.Length);
            insn.Length = (byte)ins.Length;
            InsnBuilder.Build(ref insn, in ins, decoder.LastError != DecoderError.None);
        }

        return new Block(0, 32, insns, count, 0);
    }
}

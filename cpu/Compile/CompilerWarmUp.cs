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
    // 32-bit machine code of instructions the compiler knows, one array each.
    private static readonly byte[][] Known =
    [
        [0x90], // nop
        [0x89, 0xD8], // mov eax, ebx
        [0xB9, 0x78, 0x56, 0x34, 0x12], // mov ecx, 0x12345678
        [0x8B, 0x43, 0x04], // mov eax, [ebx+4]
        [0x8B, 0x45, 0xF8], // mov eax, [ebp-8] (SS)
        [0x8B, 0x04, 0x24], // mov eax, [esp]
        [0x8B, 0x0D, 0x00, 0x10, 0x00, 0x00], // mov ecx, [0x1000]
        [0x89, 0x43, 0x08], // mov [ebx+8], eax
        [0xC7, 0x43, 0x0C, 0x01, 0x00, 0x00, 0x00], // mov dword [ebx+12], 1
        [0x8D, 0x44, 0x8B, 0x10], // lea eax, [ebx+ecx*4+16]
        [0x01, 0xD8], [0x29, 0xD8], [0x21, 0xD8], [0x09, 0xD8], [0x31, 0xD8], // add/sub/and/or/xor eax, ebx
        [0x39, 0xD8], [0x85, 0xD8], // cmp eax, ebx; test eax, ebx
        [0x83, 0xC0, 0x05], [0x83, 0xE8, 0x05], [0x83, 0xE0, 0x05], // add/sub/and eax, 5
        [0x83, 0xC8, 0x05], [0x83, 0xF0, 0x05], [0x83, 0xF8, 0x05], // or/xor/cmp eax, 5
        [0xF7, 0xC1, 0x00, 0x01, 0x00, 0x00], // test ecx, 0x100
        [0x03, 0x43, 0x04], [0x3B, 0x43, 0x04], [0x23, 0x43, 0x04], // add/cmp/and eax, [ebx+4]
        [0x2B, 0x43, 0x04], [0x0B, 0x43, 0x04], [0x33, 0x43, 0x04], // sub/or/xor eax, [ebx+4]
        [0x39, 0x43, 0x04], // cmp [ebx+4], eax
        [0x81, 0x7B, 0x04, 0x00, 0x10, 0x00, 0x00], // cmp dword [ebx+4], 0x1000
        [0x01, 0x43, 0x04], // add [ebx+4], eax
        [0x83, 0x43, 0x04, 0x05], // add dword [ebx+4], 5
        [0x40], [0x48], // inc eax; dec eax
        [0xC1, 0xE0, 0x03], [0xC1, 0xE8, 0x03], [0xC1, 0xF8, 0x03], [0xC1, 0xC0, 0x03], [0xC1, 0xC8, 0x03], // shl/shr/sar/rol/ror eax, 3
        [0x53], [0x6A, 0x05], [0x68, 0x00, 0x10, 0x00, 0x00], [0x5B], // push ebx; push 5; push 0x1000; pop ebx
    ];

    // An instruction the compiler leaves to the interpreter's handler (a helper call), which reads the flags before it.
    private static readonly byte[] MulEbx = [0xF7, 0xE3];

    // Blocks the decoder would cut: each ends at its last instruction.
    private static readonly byte[][] Blocks =
    [
        // Every known instruction, then a branch back to the start: a block that loops in place. Each instruction's
        // flags are overwritten by the next one's, so they are not made (dead flags).
        LoopingBlock(Known.SelectMany(i => i)),

        // Every known instruction followed by a helper call, so that its flags are made; then a return.
        [.. Known.SelectMany(i => i.Concat(MulEbx)), 0xC3],
        [0x89, 0xD8, 0xE8, 0x00, 0x01, 0x00, 0x00], // mov eax, ebx; call +0x100
        [0x89, 0xD8, 0xEB, 0x10], // mov eax, ebx; jmp +0x10
        [0x49, 0xE2, 0xFD], // dec ecx; loop back
        [0x39, 0xD9, 0x74, 0x10], // cmp ecx, ebx; jz +0x10
        [0x39, 0xD9, 0x74, 0x10, 0x85, 0xC9, 0x75, 0x10, 0xEB, 0x10], // cmp ecx, ebx; jz (side exit); test ecx, ecx; jnz (side exit); jmp
    ];

    // The instructions, then JNZ rel32 back to the first of them.
    private static byte[] LoopingBlock(IEnumerable<byte> body)
    {
        byte[] code = [.. body, 0x0F, 0x85, 0, 0, 0, 0];
        BitConverter.TryWriteBytes(code.AsSpan(code.Length - 4), -code.Length);
        return code;
    }

    /// <summary>A compile request as the compile thread serves it: the code (null: none) and whether it was reused.</summary>
    public delegate CompiledBlock? CompileRequest(Block block, out bool reused);

    /// <summary>
    /// Serve every made-up block as a request through <paramref name="compile"/> and install its code in a
    /// scratch cache, on the calling thread (the compile thread), then drop it. Returns the instructions decoded
    /// and those compiled: equal while the compiler knows every form used here.
    /// </summary>
    public static (int Decoded, int Compiled) Run(CompileRequest compile)
    {
        int decoded = 0, compiled = 0;
        var scratch = new CompiledCodeCache(1); // of one, so that installing the second evicts the first, as a full cache does
        foreach (byte[] code in Blocks)
        {
            Block block = Decode(code);
            decoded += block.Count;
            CompiledBlock? result = compile(block, out _);
            if (result == null)
                continue;
            compiled += result.Count;
            scratch.Add(block, result);
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
            bool ends = InsnBuilder.Build(ref insn, in ins, decoder.LastError != DecoderError.None);
            if (ends && decoder.IP < (ulong)code.Length && (nint)insn.Exec == (nint)(delegate*<Cpu, ref Insn, void>)&Cpu.Jcc)
                insn.Exec = &Cpu.JccSideExit; // as the decoder makes a conditional branch that does not end its block
        }

        return new Block(0, 32, insns, count, 0);
    }
}

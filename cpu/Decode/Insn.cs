using System.Runtime.InteropServices;

namespace MiniHv.Cpu;

/// <summary>
/// One decoded instruction in the compact form the execution loop runs: a handler and the
/// operand fields it needs, precomputed from Iced's decode so that executing it again decodes nothing.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Insn
{
    public delegate*<Cpu, ref Insn, void> Exec;

    /// <summary>Offset of the next instruction from the start of the block, in bytes.</summary>
    public ushort NextOffset;

    /// <summary>Offset of this instruction from the start of the block.</summary>
    public ushort Offset;

    /// <summary>Sub-operation: ALU kind, condition code, shift kind, string kind, ...</summary>
    public byte Op;

    /// <summary>Operand size in bytes (1, 2 or 4).</summary>
    public byte Size;

    /// <summary>Register of operand 0 (0-7), when it is a register.</summary>
    public byte R0;

    /// <summary>Register of operand 1 (0-7), when it is a register.</summary>
    public byte R1;

    /// <summary>Memory operand: base and index registers (8 = none), scale shift, segment.</summary>
    public byte Base;
    public byte Index;
    public byte Scale;
    public byte Seg;

    /// <summary>True when the memory operand uses 16-bit addressing (the address wraps at 64 KiB).</summary>
    public bool Addr16;

    /// <summary>Prefix bits: 1 = REP/REPE, 2 = REPNE, 4 = LOCK.</summary>
    public byte Prefix;

    public byte Length;

    /// <summary>Which operands are memory or immediate (Cpu.FormOp0Mem, ...).</summary>
    public byte Form;

    public uint Disp;
    public uint Imm;
    public uint Imm2;
}

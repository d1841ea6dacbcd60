namespace MiniHv.Cpu;

/// <summary>
/// Host code for a prefix of a block: runs instructions 0..Count-1 (or fewer, when a store ends the block early)
/// on <paramref name="cpu"/>, leaves EIP, registers and flags as the interpreter would, and returns how many
/// retired. <paramref name="first"/> is the block's first instruction; <paramref name="start"/> the EIP it was
/// entered at; <paramref name="left"/> the instructions the run may still retire (at least Count). A block that
/// branches back to its own start runs again in place, as the interpreter's chaining would run it, while whole
/// passes fit in <paramref name="left"/>: each finished pass is added to the CPU's retired count of the chain
/// (<c>_chainRetired</c>) and the return value counts the last pass only. A null <paramref name="first"/>
/// returns 0 at once (the compile thread calls it so to have RyuJIT compile it there, not on a guest's thread).
/// </summary>
internal unsafe delegate int CompiledCode(Cpu cpu, Insn* first, uint start, int left);

/// <summary>A block's compiled prefix: the code, and how many instructions it covers when it runs to its end.</summary>
internal sealed class CompiledBlock
{
    public CompiledBlock(CompiledCode code, int count)
    {
        Code = code;
        Count = count;
    }

    public CompiledCode Code { get; }

    public int Count { get; }
}

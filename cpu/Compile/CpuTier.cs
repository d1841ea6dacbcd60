namespace MiniHv.Cpu;

/// <summary>How the CPU runs guest code: the decoded-block interpreter alone, or with hot blocks compiled to IL.</summary>
public enum CpuTier
{
    Interp,
    Jit,
}

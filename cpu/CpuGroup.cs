namespace MiniHv.Cpu;

/// <summary>
/// The processors of one machine, which share its guest-physical memory. Each keeps its own decoded-block cache,
/// so a store by one must reach the blocks the others decoded from the same bytes: every member marks a frame as
/// code when any member decodes from it (so every member's stores to it are checked), and a store into decoded
/// bytes drops the frame's blocks in every member.
/// </summary>
/// <remarks>
/// Members that run on threads of their own do this inside <see cref="Gate"/>'s exclusive sections, so while every
/// other member is parked; members that take turns on one thread leave the gate disabled.
/// </remarks>
public sealed class CpuGroup
{
    private readonly List<Cpu> _members = new();

    public IReadOnlyList<Cpu> Members => _members;

    /// <summary>The members' exclusive sections (disabled unless they run on threads of their own).</summary>
    public ExclusiveGate Gate { get; } = new();

    /// <summary>Add <paramref name="cpu"/>, which must not have decoded anything yet.</summary>
    public void Add(Cpu cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (cpu.Group != null)
            throw new InvalidOperationException("the CPU is already in a group");
        cpu.Group = this;
        _members.Add(cpu);
        Gate.Add(cpu);
    }

    /// <summary>A member decoded its first block from <paramref name="gfn"/>: no member may keep a write entry for it.</summary>
    internal unsafe void MarkCode(Cpu caller, uint gfn)
    {
        Gate.Enter(caller);
        try
        {
            foreach (Cpu member in _members)
            {
                if (member.CodeFrames[gfn] == 0)
                {
                    member.CodeFrames[gfn] = 1;
                    member.FlushWriteEntriesOfFrame(gfn);
                }
            }
        }
        finally
        {
            Gate.Exit(caller);
        }
    }

    /// <summary>True when a store of <paramref name="size"/> bytes at <paramref name="offset"/> touches bytes any member decoded (or none can tell).</summary>
    internal bool StoreTouchesCode(Cpu caller, uint gfn, uint offset, int size)
    {
        Gate.Enter(caller);
        try
        {
            return StoreTouchesAnyCode(gfn, offset, size);
        }
        finally
        {
            Gate.Exit(caller);
        }
    }

    private bool StoreTouchesAnyCode(uint gfn, uint offset, int size)
    {
        bool known = false;
        foreach (Cpu member in _members)
        {
            switch (member.StoreTouchesOwnCode(gfn, offset, size))
            {
                case true:
                    return true;
                case false:
                    known = true;
                    break;
            }
        }

        return !known;
    }

    /// <summary>Drop every member's blocks decoded from <paramref name="gfn"/>.</summary>
    internal void InvalidateCodeFrame(Cpu caller, uint gfn)
    {
        Gate.Enter(caller);
        try
        {
            foreach (Cpu member in _members)
                member.InvalidateOwnCodeFrame(gfn);
        }
        finally
        {
            Gate.Exit(caller);
        }
    }
}

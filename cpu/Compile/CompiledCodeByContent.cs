namespace MiniHv.Cpu;

/// <summary>
/// Compiled code shared by every block decoded to the same instructions, whichever CPU, frame or guest it came
/// from. Compiled code reads nothing of its block but the decoded instructions (their fields are baked into the
/// IL, offsets and branch targets relative to the block's start), so equal instruction arrays run the same code:
/// the four guests of the demo, or a program loaded again into other frames, compile each block once.
/// Bounded: past <see cref="Capacity"/> entries the table starts again empty (the blocks keep their code).
/// The compile thread is its user; <see cref="Clear"/> may come from any thread, hence the lock.
/// </summary>
internal sealed class CompiledCodeByContent
{
    private readonly Dictionary<int, List<(Insn[] Insns, CompiledBlock Code)>> _byHash = new();
    private int _count;

    // The table keeps its code alive after every block that used it is gone, so it is kept small: a few
    // thousand blocks cover a kernel and its programs (the demo's four guests share under 300).
    public const int Capacity = 4096;

    /// <summary>The code compiled before for instructions equal to <paramref name="insns"/>, or null.</summary>
    public CompiledBlock? Find(Insn[] insns, out int hash)
    {
        hash = Hash(insns);
        lock (_byHash)
        {
            if (!_byHash.TryGetValue(hash, out var list))
                return null;
            foreach (var (other, code) in list)
            {
                if (Same(other, insns))
                    return code;
            }
        }

        return null;
    }

    /// <summary>Forget all code (blocks keep theirs): the next hot block of each kind is compiled again.</summary>
    public void Clear()
    {
        lock (_byHash)
        {
            _byHash.Clear();
            _count = 0;
        }
    }

    // Field by field, not the structs' bytes: their padding is not part of an instruction.
    private static unsafe int Hash(Insn[] insns)
    {
        var h = new HashCode();
        foreach (ref readonly Insn i in insns.AsSpan())
        {
            h.Add((nint)i.Exec);
            h.Add(i.NextOffset | (i.Offset << 16));
            h.Add(i.Op | (i.Size << 8) | (i.R0 << 16) | (i.R1 << 24));
            h.Add(i.Base | (i.Index << 8) | (i.Scale << 16) | (i.Seg << 24));
            h.Add((i.Addr16 ? 1 : 0) | (i.Prefix << 8) | (i.Length << 16) | (i.Form << 24));
            h.Add(i.Disp);
            h.Add(i.Imm);
            h.Add(i.Imm2);
        }

        return h.ToHashCode();
    }

    private static unsafe bool Same(Insn[] a, Insn[] b)
    {
        if (a.Length != b.Length)
            return false;
        for (int k = 0; k < a.Length; k++)
        {
            ref Insn x = ref a[k];
            ref Insn y = ref b[k];
            if ((nint)x.Exec != (nint)y.Exec || x.NextOffset != y.NextOffset || x.Offset != y.Offset || x.Op != y.Op || x.Size != y.Size
                || x.R0 != y.R0 || x.R1 != y.R1 || x.Base != y.Base || x.Index != y.Index || x.Scale != y.Scale || x.Seg != y.Seg
                || x.Addr16 != y.Addr16 || x.Prefix != y.Prefix || x.Length != y.Length || x.Form != y.Form
                || x.Disp != y.Disp || x.Imm != y.Imm || x.Imm2 != y.Imm2)
                return false;
        }

        return true;
    }

    /// <summary>Remember <paramref name="code"/> for a copy of <paramref name="insns"/> (the block's own array is pinned; the copy is not).</summary>
    public void Add(int hash, Insn[] insns, CompiledBlock code)
    {
        lock (_byHash)
        {
            if (_count >= Capacity)
            {
                _byHash.Clear();
                _count = 0;
            }

            if (!_byHash.TryGetValue(hash, out var list))
                _byHash[hash] = list = new List<(Insn[], CompiledBlock)>(1);
            list.Add((insns.ToArray(), code));
            _count++;
        }
    }
}

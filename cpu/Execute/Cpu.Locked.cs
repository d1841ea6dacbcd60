namespace MiniHv.Cpu;

/// <summary>
/// The locked forms of the read-modify-write instructions: a LOCK prefix on ADD/ADC/SUB/SBB/AND/OR/XOR, INC/DEC,
/// NOT/NEG, BTS/BTR/BTC, CMPXCHG, CMPXCHG8B and XADD with a memory destination, and XCHG with memory, which is
/// locked without the prefix. Each loads its operand, computes and stores it with a compare-exchange, again until no
/// other host thread changed the operand in between (<see cref="Cpu.TryLockOperand"/>). Results, flags and faults
/// are the unlocked form's; an operand on a device page runs the unlocked form. The decoder picks these handlers,
/// so the unlocked forms and their fast paths are as they were.
/// </summary>
public sealed unsafe partial class Cpu
{
    /// <summary>ALU operation <paramref name="op"/> without its flags, for a loop that may compute it more than once.</summary>
    private static uint AluValue(int op, uint a, uint b, uint carry, uint mask) => op switch
    {
        AluAdd => (a + b) & mask,
        AluOr => a | b,
        AluAdc => (a + b + carry) & mask,
        AluSbb => (a - b - carry) & mask,
        AluAnd => a & b,
        AluXor => a ^ b,
        _ => (a - b) & mask,
    };

    internal static void LockedAlu(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint b = c.ReadOp1(ref i);
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            AluGeneric(c, ref i);
            return;
        }

        uint carry = i.Op is AluAdc or AluSbb && c.GetCF() ? 1u : 0u;
        uint mask = SizeMask(size);
        uint a;
        c.BeginLockedUpdate(in m);
        do
            a = (uint)m.Load();
        while (!m.TryStore(AluValue(i.Op, a, b, carry, mask)));
        c.EndLockedUpdate(in m, in w);
        c.Alu(i.Op, a, b, size); // the flags, from the operand the store replaced
    }

    internal static void LockedIncDec(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            IncDecGeneric(c, ref i);
            return;
        }

        bool dec = i.Op != 0;
        uint carry = c.GetCF() ? 1u : 0u;
        uint mask = SizeMask(size);
        uint a, res;
        c.BeginLockedUpdate(in m);
        do
        {
            a = (uint)m.Load();
            res = (dec ? a - 1 : a + 1) & mask;
        }
        while (!m.TryStore(res));
        c.EndLockedUpdate(in m, in w);
        c.LazyCarryIn = carry;
        c.SetLazy(dec ? FlagOp.Dec : FlagOp.Inc, SignBit(size), a, 1, res);
    }

    internal static void LockedNeg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            Neg(c, ref i);
            return;
        }

        uint b, res;
        c.BeginLockedUpdate(in m);
        do
        {
            b = (uint)m.Load();
            res = (0 - b) & SizeMask(size);
        }
        while (!m.TryStore(res));
        c.EndLockedUpdate(in m, in w);
        c.SetLazy(FlagOp.Sub, SignBit(size), 0, b, res);
    }

    internal static void LockedNot(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            Not(c, ref i);
            return;
        }

        c.BeginLockedUpdate(in m);
        ulong a;
        do
            a = m.Load();
        while (!m.TryStore(~a));
        c.EndLockedUpdate(in m, in w);
    }

    /// <summary>BTS (Op 1), BTR (2), BTC (3) on memory; CF is the bit before.</summary>
    internal static void LockedBitTest(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.BitStringOperand(ref i, out int bit);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            BitTest(c, ref i);
            return;
        }

        uint v;
        c.BeginLockedUpdate(in m);
        do
            v = (uint)m.Load();
        while (!m.TryStore(BitOp(i.Op, v, bit)));
        c.EndLockedUpdate(in m, in w);
        c.SetArith((v >> bit) & 1, CF);
    }

    internal static void LockedXchg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint b = c.GetReg(i.R1, size);
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            Xchg(c, ref i);
            return;
        }

        uint a;
        c.BeginLockedUpdate(in m);
        do
            a = (uint)m.Load();
        while (!m.TryStore(b));
        c.EndLockedUpdate(in m, in w);
        c.SetReg(i.R1, size, a);
    }

    internal static void LockedCmpxchg(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint acc = c.GetReg(0, size);
        uint src = c.GetReg(i.R1, size);
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            Cmpxchg(c, ref i);
            return;
        }

        // A destination that differs is left as it is: the processor writes it back unchanged.
        uint dest;
        c.BeginLockedUpdate(in m);
        do
            dest = (uint)m.Load();
        while (dest == acc && !m.TryStore(src));
        c.EndLockedUpdate(in m, in w);
        c.Alu(AluCmp, acc, dest, size);
        if (dest != acc)
            c.SetReg(0, size, dest);
    }

    internal static void LockedCmpxchg8b(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 8, true);
        if (!c.TryLockOperand(lin, 8, true, out AtomicOperand m, out LockedWrite w))
        {
            Cmpxchg8b(c, ref i);
            return;
        }

        ulong expected = ((ulong)c.R[2] << 32) | c.R[0];
        ulong replacement = ((ulong)c.R[1] << 32) | c.R[3];
        ulong dest;
        c.BeginLockedUpdate(in m);
        do
            dest = m.Load();
        while (dest == expected && !m.TryStore(replacement));
        c.EndLockedUpdate(in m, in w);
        if (dest == expected)
        {
            c.SetArith(ZF, ZF);
        }
        else
        {
            c.R[0] = (uint)dest;
            c.R[2] = (uint)(dest >> 32);
            c.SetArith(0, ZF);
        }
    }

    internal static void LockedXadd(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint src = c.GetReg(i.R1, size);
        uint lin = c.Linear(ref i, size, true);
        if (!c.TryLockOperand(lin, size, false, out AtomicOperand m, out LockedWrite w))
        {
            Xadd(c, ref i);
            return;
        }

        uint dest;
        c.BeginLockedUpdate(in m);
        do
            dest = (uint)m.Load();
        while (!m.TryStore((dest + src) & SizeMask(size)));
        c.EndLockedUpdate(in m, in w);
        c.Alu(AluAdd, dest, src, size);
        c.SetReg(i.R1, size, dest);
    }
}

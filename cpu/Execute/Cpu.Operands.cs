using System.Runtime.CompilerServices;

namespace MiniHv.Cpu;

/// <summary>Operand access shared by the handlers: effective addresses, segment checks, registers by size.</summary>
public sealed unsafe partial class Cpu
{
    /// <summary>Form bits of <see cref="Insn.Form"/>: which operands are memory or immediate.</summary>
    internal const byte FormOp0Mem = 1, FormOp1Mem = 2, FormOp1Imm = 4, FormOp2Imm = 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint EffectiveAddress(ref Insn i)
    {
        uint ea = R[i.Base] + (R[i.Index] << i.Scale) + i.Disp;
        return i.Addr16 ? ea & 0xFFFF : ea;
    }

    /// <summary>Linear address of the memory operand, with segment checks when the segment is not flat.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Linear(ref Insn i, int size, bool write)
    {
        uint ea = EffectiveAddress(ref i);
        if ((CheckedSegments & (1 << i.Seg)) != 0)
            CheckSegment(i.Seg, ea, size, write);
        return SegBase[i.Seg] + ea;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Linear(int seg, uint offset, int size, bool write)
    {
        if ((CheckedSegments & (1 << seg)) != 0)
            CheckSegment(seg, offset, size, write);
        return SegBase[seg] + offset;
    }

    /// <summary>Limit and type checks for an access through a segment that is not flat.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void CheckSegment(int seg, uint offset, int size, bool write)
    {
        ref SegmentCache s = ref Segs[seg];
        int vector = seg == (int)SegReg.SS ? Vectors.SS : Vectors.GP;
        if (s.IsNull)
            throw Fault(Vectors.GP, 0);
        if (write && (s.IsCode || (s.Attributes & 0x2) == 0))
            throw Fault(vector, 0);
        if (!write && s.IsCode && (s.Attributes & 0x2) == 0) // execute-only code: CS override reads fault too
            throw Fault(vector, 0);
        ulong last = (ulong)offset + (ulong)size - 1;
        if (s.IsExpandDown)
        {
            ulong upper = s.Big ? 0xFFFFFFFFul : 0xFFFFul;
            if (offset <= s.Limit || last > upper)
                throw Fault(vector, 0);
        }
        else if (last > s.Limit)
        {
            throw Fault(vector, 0);
        }
    }

    /// <summary>
    /// Translate the pages of a store before the instruction changes any state: a read-modify-write
    /// that records its flags before storing must still fault with EFLAGS and registers as they were.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ProbeWrite(uint lin, int size)
    {
        Probe(lin, true);
        if ((lin & 0xFFF) > 0x1000 - size)
            Probe((lin + (uint)size - 1) & 0xFFFFF000, true);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint GetReg(int r, int size)
    {
        if (size == 4)
            return R[r];
        if (size == 2)
            return R[r] & 0xFFFF;
        return r < 4 ? R[r] & 0xFF : (R[r - 4] >> 8) & 0xFF;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg(int r, int size, uint value)
    {
        if (size == 4)
            R[r] = value;
        else if (size == 2)
            *(ushort*)(R + r) = (ushort)value;
        else if (r < 4)
            *(byte*)(R + r) = (byte)value;
        else
            *((byte*)(R + r - 4) + 1) = (byte)value;
    }

    /// <summary>Read operand 0 (register or memory) of the instruction's size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint ReadOp0(ref Insn i)
        => (i.Form & FormOp0Mem) != 0 ? Read(Linear(ref i, i.Size, false), i.Size) : GetReg(i.R0, i.Size);

    /// <summary>Read operand 1: register, memory or immediate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint ReadOp1(ref Insn i)
    {
        if ((i.Form & FormOp1Imm) != 0)
            return i.Imm;
        if ((i.Form & FormOp1Mem) != 0)
            return Read(Linear(ref i, i.Size, false), i.Size);
        return GetReg(i.R1, i.Size);
    }

    internal static uint SizeMask(int size) => size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1;

    internal static uint SignBit(int size) => 1u << ((size * 8) - 1);

    internal static uint SignExtend(uint value, int size) => size switch
    {
        1 => (uint)(sbyte)value,
        2 => (uint)(short)value,
        _ => value,
    };

    // ---- Stack ----------------------------------------------------------------------------

    internal bool StackIs32 => Segs[(int)SegReg.SS].Big;

    /// <summary>True while SS is a flat 32-bit segment: pushes and pops need no checks beyond the TLB.</summary>
    internal bool FlatStack32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Push32(uint value)
    {
        if (!TryPushFlat32(value))
            PushSlow(value, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Pop32() => TryPopFlat32(out uint value) ? value : PopSlow(4);

    /// <summary>
    /// Push a word or a dword. Dwords on a flat 32-bit stack whose page the TLB holds take the fast path, as PUSH
    /// r32 does: interrupt and exception frames, PUSHA, segment registers and IRET's pops are most of a kernel's
    /// stack traffic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PushSized(uint value, int size)
    {
        if (size != 4 || !TryPushFlat32(value))
            PushSlow(value, size);
    }

    /// <summary>Pop a word or a dword (dwords on a flat 32-bit stack in the TLB on the fast path, as <see cref="PushSized"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint PopSized(int size) => size == 4 && TryPopFlat32(out uint value) ? value : PopSlow(size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryPushFlat32(uint value)
    {
        if (!FlatStack32)
            return false;
        uint esp = R[4] - 4;
        TlbEntry* e = TlbWrite + ((esp >> 12) & TlbMask);
        if (e->Tag != ((esp + 3) & 0xFFFFF000))
            return false;
        *(uint*)(e->Addend + esp) = value;
        R[4] = esp;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryPopFlat32(out uint value)
    {
        uint esp = R[4];
        TlbEntry* e = TlbRead + ((esp >> 12) & TlbMask);
        if (!FlatStack32 || e->Tag != ((esp + 3) & 0xFFFFF000))
        {
            value = 0;
            return false;
        }

        value = *(uint*)(e->Addend + esp);
        R[4] = esp + 4;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PushSlow(uint value, int size)
    {
        if (StackIs32)
        {
            uint esp = R[4] - (uint)size;
            Write(Linear((int)SegReg.SS, esp, size, true), size, value);
            R[4] = esp;
        }
        else
        {
            ushort sp = (ushort)(R[4] - (uint)size);
            Write(Linear((int)SegReg.SS, sp, size, true), size, value);
            *(ushort*)(R + 4) = sp;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private uint PopSlow(int size)
    {
        uint sp = StackIs32 ? R[4] : R[4] & 0xFFFF;
        uint value = Read(Linear((int)SegReg.SS, sp, size, false), size);
        if (StackIs32)
            R[4] = sp + (uint)size;
        else
            *(ushort*)(R + 4) = (ushort)(sp + (uint)size);
        return value;
    }

    /// <summary>Read the value <paramref name="depth"/> bytes above the stack pointer without popping.</summary>
    internal uint PeekStack(uint depth, int size)
    {
        uint sp = StackIs32 ? R[4] + depth : (R[4] + depth) & 0xFFFF;
        return Read(Linear((int)SegReg.SS, sp, size, false), size);
    }
}

namespace MiniHv.Cpu;

/// <summary>
/// String instructions with REP/REPE/REPNE. ESI, EDI and ECX are updated after every element, so
/// a fault part-way leaves a state from which the instruction restarts where it stopped; a long REP
/// restarts itself the same way every <see cref="RepIterationsPerRun"/> iterations, REP INS/OUTS after every element.
/// </summary>
public sealed unsafe partial class Cpu
{
    internal const byte StrMovs = 0, StrStos = 1, StrLods = 2, StrCmps = 3, StrScas = 4, StrIns = 5, StrOuts = 6;
    internal const byte PrefixRep = 1, PrefixRepne = 2, PrefixLock = 4;

    /// <summary>
    /// Iterations one execution of a REP instruction runs before it restarts itself. A real REP lets
    /// interrupts in between iterations; here the instruction stops with its registers updated and EIP
    /// still on it, so the loop around it can take interrupts, honour a stop and count its budget, then
    /// run it again to carry on. A page's worth of dwords, so that copying or clearing a page is one go.
    /// REP INS and OUTS run one element per execution: each port access may change what the devices
    /// signal, and may cost the host as much as many instructions.
    /// </summary>
    internal const int RepIterationsPerRun = 1024;

    internal static void StringOp(Cpu c, ref Insn i)
    {
        bool rep = (i.Prefix & (PrefixRep | PrefixRepne)) != 0;
        bool io = i.Op is StrIns or StrOuts;
        if (io)
            c.CheckIoPermission((ushort)c.R[2], i.Size);
        if (!rep)
        {
            c.StringStep(ref i);
            return;
        }

        bool a16 = i.Addr16;
        bool bulk = !a16 && (i.Op is StrMovs or StrStos) && !c.DirectionDown
            && (c.CheckedSegments & ((1 << (int)SegReg.ES) | (i.Op == StrMovs ? 1 << i.Seg : 0))) == 0;
        int steps = 0;
        try
        {
            for (int left = io ? 1 : RepIterationsPerRun; ; left--)
            {
                uint count = a16 ? c.R[1] & 0xFFFF : c.R[1];
                if (count == 0)
                    return;
                if (left == 0)
                {
                    c.RestartInstruction(ref i);
                    return;
                }

                if (bulk && c.BulkStringRun(ref i, count, left) is int n and > 0)
                {
                    steps += n;
                    left -= n - 1;
                    continue;
                }

                c.StringStep(ref i);
                steps++;
                count--;
                if (a16)
                    c.SetReg(1, 2, count);
                else
                    c.R[1] = count;
                if (i.Op is StrCmps or StrScas)
                {
                    bool zf = c.GetZF();
                    if ((i.Prefix & PrefixRepne) != 0 ? zf : !zf)
                        return;
                }
            }
        }
        finally
        {
            // Every iteration costs an instruction's worth of budget and virtual time, as QEMU's icount counts them.
            if (steps > 1)
                c.ExtraCharge += steps - 1;
        }
    }

    /// <summary>
    /// REP MOVS or STOS upwards through flat segments, as many elements at once as lie within one page of the
    /// destination (and of the source) whose translations the TLB holds: a plain copy or fill of host memory,
    /// with ECX, ESI and EDI advanced as element by element. Returns the elements done, 0 where the page is not
    /// in the TLB, an element crosses a page, or the source and destination overlap (where element order shows);
    /// the caller then takes one step the ordinary way, which faults, fills the TLB or crosses as it must.
    /// </summary>
    private int BulkStringRun(ref Insn i, uint count, int left)
    {
        int size = i.Size;
        uint dstLin = SegBase[(int)SegReg.ES] + R[7];
        long n = Math.Min(Math.Min(count, (uint)left), (0x1000 - (dstLin & 0xFFF)) / (uint)size);
        TlbEntry* we = TlbWrite + ((dstLin >> 12) & TlbMask);
        if (n <= 1 || we->Tag != (dstLin & 0xFFFFF000))
            return 0;
        byte* dst = (byte*)(we->Addend + dstLin);
        if (i.Op == StrMovs)
        {
            uint srcLin = SegBase[i.Seg] + R[6];
            n = Math.Min(n, (0x1000 - (srcLin & 0xFFF)) / (uint)size);
            TlbEntry* re = TlbRead + ((srcLin >> 12) & TlbMask);
            if (n <= 1 || re->Tag != (srcLin & 0xFFFFF000))
                return 0;
            byte* src = (byte*)(re->Addend + srcLin);
            long bytes = n * size;
            if (src < dst + bytes && dst < src + bytes)
                return 0;
            Buffer.MemoryCopy(src, dst, bytes, bytes);
            R[6] += (uint)bytes;
        }
        else
        {
            switch (size)
            {
                case 1: new Span<byte>(dst, (int)n).Fill((byte)R[0]); break;
                case 2: new Span<ushort>(dst, (int)n).Fill((ushort)R[0]); break;
                default: new Span<uint>(dst, (int)n).Fill(R[0]); break;
            }
        }

        R[7] += (uint)(n * size);
        R[1] -= (uint)n;
        return (int)n;
    }

    /// <summary>Leave EIP on the instruction now running and end the block, so that it runs again from the top.</summary>
    private void RestartInstruction(ref Insn i)
    {
        EipValue -= i.Length;
        if (!Segs[(int)SegReg.CS].Big)
            EipValue &= 0xFFFF;
        AbortBlock = true;
    }

    private void StringStep(ref Insn i)
    {
        int size = i.Size;
        bool a16 = i.Addr16;
        uint delta = DirectionDown ? (uint)-size : (uint)size;
        uint si = a16 ? R[6] & 0xFFFF : R[6];
        uint di = a16 ? R[7] & 0xFFFF : R[7];
        const int es = (int)SegReg.ES;
        switch (i.Op)
        {
            case StrMovs:
            {
                uint v = Read(Linear(i.Seg, si, size, false), size);
                Write(Linear(es, di, size, true), size, v);
                AdvanceIndex(6, delta, a16);
                AdvanceIndex(7, delta, a16);
                break;
            }

            case StrStos:
                Write(Linear(es, di, size, true), size, GetReg(0, size));
                AdvanceIndex(7, delta, a16);
                break;
            case StrLods:
                SetReg(0, size, Read(Linear(i.Seg, si, size, false), size));
                AdvanceIndex(6, delta, a16);
                break;
            case StrCmps:
            {
                uint a = Read(Linear(i.Seg, si, size, false), size);
                uint b = Read(Linear(es, di, size, false), size);
                Alu(AluCmp, a, b, size);
                AdvanceIndex(6, delta, a16);
                AdvanceIndex(7, delta, a16);
                break;
            }

            case StrScas:
            {
                uint b = Read(Linear(es, di, size, false), size);
                Alu(AluCmp, GetReg(0, size), b, size);
                AdvanceIndex(7, delta, a16);
                break;
            }

            case StrIns:
            {
                uint lin = Linear(es, di, size, true);
                Probe(lin, true);
                Write(lin, size, _io.In((ushort)R[2], size));
                AdvanceIndex(7, delta, a16);
                AbortBlock = true; // as IN: a device may have changed its interrupt request
                break;
            }

            default:
            {
                uint v = Read(Linear(i.Seg, si, size, false), size);
                _io.Out((ushort)R[2], size, v);
                AdvanceIndex(6, delta, a16);
                AbortBlock = true; // as OUT
                break;
            }
        }
    }

    private void AdvanceIndex(int reg, uint delta, bool a16)
    {
        if (a16)
            SetReg(reg, 2, R[reg] + delta);
        else
            R[reg] += delta;
    }
}

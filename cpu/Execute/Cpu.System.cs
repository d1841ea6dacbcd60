namespace MiniHv.Cpu;

/// <summary>
/// System instructions: control and debug registers, descriptor-table registers, INVLPG, port
/// I/O with its IOPL and I/O-bitmap checks, flag instructions, CPUID, RDTSC, far transfers.
/// </summary>
public sealed unsafe partial class Cpu
{
    private void RequireCpl0()
    {
        if (CplValue != 0)
            throw Fault(Vectors.GP, 0);
    }

    /// <summary>LLDT, LTR, SLDT, STR, LAR, LSL and ARPL do not exist in real mode.</summary>
    private void RequireProtectedMode()
    {
        if (RealMode)
            throw Fault(Vectors.UD);
    }

    /// <summary>MOV CRn, r32 (Op = n).</summary>
    internal static void MovToCr(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        uint v = c.R[i.R1];
        switch (i.Op)
        {
            case 0:
                if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0)
                    throw c.Fault(Vectors.GP, 0);
                if (c.PdptLoadFaults(v | CR0_ET, c._cr3, c._cr4, cr3Written: false))
                    throw c.Fault(Vectors.GP, 0);
                // Into or out of real mode: CS keeps its cache until the far jump that follows.
                c.WriteCr0(v);
                break;
            case 2:
                c.Cr2Value = v;
                break;
            case 3:
                if (c.PdptLoadFaults(c._cr0, v, c._cr4, cr3Written: true))
                    throw c.Fault(Vectors.GP, 0);
                c.Cr3 = v;
                c.AbortBlock = true;
                break;
            case 4:
                // Bits 0-9 (VME to OSFXSR, PAE among them); a PDPT with a reserved bit set refuses the load.
                if ((v & ~0x3FFu) != 0 || c.PdptLoadFaults(c._cr0, c._cr3, v, cr3Written: false))
                    throw c.Fault(Vectors.GP, 0);
                c.Cr4 = v;
                c.AbortBlock = true;
                break;
            default:
                throw c.Fault(Vectors.UD);
        }
    }

    internal static void MovFromCr(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        c.R[i.R0] = i.Op switch
        {
            0 => c._cr0,
            2 => c.Cr2Value,
            3 => c._cr3,
            4 => c._cr4,
            _ => throw c.Fault(Vectors.UD),
        };
    }

    internal static void MovToDr(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        c.Dr[i.Op & 7] = c.R[i.R1];
    }

    internal static void MovFromDr(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        c.R[i.R0] = c.DebugRegister(i.Op & 7);
    }

    /// <summary>LGDT (Op 0), LIDT (1), SGDT (2), SIDT (3).</summary>
    internal static void DescriptorTableOp(Cpu c, ref Insn i)
    {
        uint lin = c.Linear(ref i, 6, i.Op >= 2);
        if (i.Op < 2)
        {
            c.RequireCpl0();
            uint limit = c.Read16(lin);
            uint tableBase = c.Read32(lin + 2);
            if (i.Size == 2)
                tableBase &= 0xFFFFFF;
            var table = new TableRegister { Base = tableBase, Limit = limit };
            if (i.Op == 0)
                c.Gdtr = table;
            else
                c.Idtr = table;
            c.AbortBlock = true;
        }
        else
        {
            var table = i.Op == 2 ? c.Gdtr : c.Idtr;
            c.ProbeWrite(lin, 6);
            c.Write16(lin, (ushort)table.Limit);
            c.Write32(lin + 2, table.Base);
        }
    }

    /// <summary>LLDT (Op 0), LTR (1), SLDT (2), STR (3).</summary>
    internal static void SystemSegmentOp(Cpu c, ref Insn i)
    {
        c.RequireProtectedMode();
        if (i.Op >= 2)
        {
            ushort sel = i.Op == 2 ? c.Ldtr.Selector : c.Tr.Selector;
            if ((i.Form & FormOp0Mem) != 0)
                c.Write16(c.Linear(ref i, 2, true), sel);
            else
                c.SetReg(i.R0, i.Size, sel);
            return;
        }

        c.RequireCpl0();
        ushort selector = (ushort)((i.Form & FormOp0Mem) != 0 ? c.Read16(c.Linear(ref i, 2, false)) : c.GetReg(i.R0, 2));
        if (i.Op == 0 && (selector & 0xFFFC) == 0)
        {
            c.Ldtr = default;
            c.Ldtr.IsNull = true;
            return;
        }

        int err = selector & 0xFFFC;
        if ((selector & 4) != 0 || (selector & 0xFFFC) == 0)
            throw c.Fault(Vectors.GP, err);
        ulong d = c.ReadDescriptor(selector, out uint address);
        int type = (int)((d >> 40) & 0x1F);
        if (i.Op == 0 ? type != 0x02 : type is not (0x09 or 0x01))
            throw c.Fault(Vectors.GP, err);
        if (!DescPresent(d))
            throw c.Fault(Vectors.NP, err);
        var cache = SegmentCache.FromDescriptor(selector, d);
        if (i.Op == 0)
        {
            c.Ldtr = cache;
        }
        else
        {
            // LTR marks the TSS busy in its descriptor.
            c.WriteSupervisor(address + 5, 1, (uint)((d >> 40) & 0xFF) | 0x2);
            cache.Attributes |= 0x2;
            c.Tr = cache;
        }
    }

    internal static void Invlpg(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        uint linear = c.SegBase[i.Seg] + c.EffectiveAddress(ref i);
        c.FlushTlbPage(linear);
        c.Mmu.InvalidatePage(linear);
        c.AbortBlock = true;
    }

    internal static void Clts(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        c._cr0 &= ~CR0_TS;
    }

    internal static void PrivilegedNop(Cpu c, ref Insn i) => c.RequireCpl0();

    internal static void Lmsw(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        uint v = (i.Form & FormOp0Mem) != 0 ? c.Read16(c.Linear(ref i, 2, false)) : c.GetReg(i.R0, 2);
        // LMSW can set PE but never clear it.
        c.WriteCr0((c._cr0 & ~0xEu) | (v & 0xF) | (c._cr0 & CR0_PE));
    }

    internal static void Smsw(Cpu c, ref Insn i)
    {
        if ((i.Form & FormOp0Mem) != 0)
            c.Write16(c.Linear(ref i, 2, true), (ushort)c._cr0);
        else
            c.SetReg(i.R0, i.Size, i.Size == 4 ? c._cr0 : c._cr0 & 0xFFFF);
    }

    // ---- Port I/O -----------------------------------------------------------------------

    /// <summary>IN/OUT at CPL &gt; IOPL consult the TSS I/O permission bitmap.</summary>
    internal void CheckIoPermission(ushort port, int size)
    {
        if (CplValue <= Iopl)
            return;
        if (Tr.IsNull || Tr.Limit < 0x67)
            throw Fault(Vectors.GP, 0);
        uint mapBase = ReadSupervisor(Tr.Base + 0x66, 2);
        uint byteOffset = mapBase + (uint)(port >> 3);
        if (byteOffset + 1 > Tr.Limit)
            throw Fault(Vectors.GP, 0);
        uint bits = ReadSupervisor(Tr.Base + byteOffset, 2);
        uint mask = ((1u << size) - 1) << (port & 7);
        if ((bits & mask) != 0)
            throw Fault(Vectors.GP, 0);
    }

    /// <summary>IN: port from Imm (Form has FormOp1Imm) or DX, into AL/AX/EAX.</summary>
    internal static void In(Cpu c, ref Insn i)
    {
        ushort port = (ushort)((i.Form & FormOp1Imm) != 0 ? i.Imm : c.R[2]);
        c.CheckIoPermission(port, i.Size);
        c.SetReg(0, i.Size, c._io.In(port, i.Size) & SizeMask(i.Size));
        c.AbortBlock = true; // a device may have changed its interrupt request
    }

    internal static void Out(Cpu c, ref Insn i)
    {
        ushort port = (ushort)((i.Form & FormOp1Imm) != 0 ? i.Imm : c.R[2]);
        c.CheckIoPermission(port, i.Size);
        c._io.Out(port, i.Size, c.GetReg(0, i.Size));
        c.AbortBlock = true; // a device may have changed its interrupt request, or stopped the machine
    }

    // ---- Flags ------------------------------------------------------------------------------

    /// <summary>CLC (0), STC (1), CMC (2), CLD (3), STD (4), CLI (5), STI (6).</summary>
    internal static void FlagOpInsn(Cpu c, ref Insn i)
    {
        switch (i.Op)
        {
            case 0: c.SetArith(0, CF); break;
            case 1: c.SetArith(CF, CF); break;
            case 2: c.SetArith(c.GetCF() ? 0 : CF, CF); break;
            case 3: c.FlagsRest &= ~DF; break;
            case 4: c.FlagsRest |= DF; break;
            case 5:
                if (c.CplValue > c.Iopl)
                    throw c.Fault(Vectors.GP, 0);
                c.FlagsRest &= ~IF;
                break;
            default:
                if (c.CplValue > c.Iopl)
                    throw c.Fault(Vectors.GP, 0);
                if ((c.FlagsRest & IF) == 0)
                    c.InterruptShadow = true;
                c.FlagsRest |= IF;
                c.AbortBlock = true;
                break;
        }
    }

    // ---- Identification and time --------------------------------------------------------

    internal static void Cpuid(Cpu c, ref Insn i)
    {
        uint leaf = c.R[0];
        switch (leaf)
        {
            case 0:
                c.R[0] = 1;
                c.R[3] = 0x756E6547; // "Genu"
                c.R[2] = 0x49656E69; // "ineI"
                c.R[1] = 0x6C65746E; // "ntel"
                break;
            case 1:
                // Signature's family 5, model 2; EBX bits 31-24 the initial APIC ID. FPU as FeatureFlags says; no MMX or SSE.
                c.R[0] = Signature;
                c.R[3] = (uint)c.InitialApicId << 24;
                c.R[1] = 0;
                c.R[2] = c.FeatureFlags;
                break;
            case 0x80000000:
                c.R[0] = 0x80000001; // the highest extended leaf
                c.R[3] = c.R[1] = c.R[2] = 0;
                break;
            case 0x80000001:
                c.R[2] = ExtendedFeatureFlags; // EDX
                c.R[0] = c.R[1] = c.R[3] = 0;
                break;
            default:
                c.R[0] = c.R[3] = c.R[1] = c.R[2] = 0;
                break;
        }
    }

    /// <summary>
    /// Instructions' worth of virtual time that passed while this CPU was halted, kept by the machine that skips
    /// ahead to its next timer event. The time-stamp counter counts it, so the TSC, the PIT, the local APIC timer
    /// and the RTC all read one virtual clock.
    /// </summary>
    public long HaltedInstructions { get; set; }

    // What WRMSR 0x10 set the counter to, as an offset from the virtual clock.
    private long _tscOffset;

    /// <summary>
    /// The time-stamp counter: one tick per instruction of virtual time, retired or skipped while halted, so it runs
    /// at the machine's instructions-per-second rate (100 MHz by default) and a run replays exactly.
    /// </summary>
    public ulong TimeStampCounter => (ulong)(InstructionsNow + HaltedInstructions + _tscOffset);

    internal static void Rdtsc(Cpu c, ref Insn i)
    {
        const uint Cr4Tsd = 1u << 2;
        if ((c._cr4 & Cr4Tsd) != 0 && c.CplValue != 0)
            throw c.Fault(Vectors.GP, 0);
        ulong tsc = c.TimeStampCounter;
        c.R[0] = (uint)tsc;
        c.R[2] = (uint)(tsc >> 32);
        c.AbortBlock = true; // the count is brought up to date between blocks: the next read sees it move
    }

    /// <summary>
    /// RDMSR (Op 0) and WRMSR (1): the time-stamp counter (0x10; a write sets it) and, when the machine has a local
    /// APIC, IA32_APIC_BASE (0x1B); IA32_EFER (0xC0000080) with NXE only. Moving the APIC or disabling it in hardware is not modelled: a write that
    /// changes the MSR stops the guest; writing back what it read is accepted. Every other MSR is absent (#GP), as on
    /// the Pentium CPUID reports: among them the P6's microcode signature (0x8B) and performance counters (0x186).
    /// </summary>
    internal static void Msr(Cpu c, ref Insn i)
    {
        c.RequireCpl0();
        switch (c.R[1])
        {
            case 0x10:
                if (i.Op == 0)
                {
                    ulong tsc = c.TimeStampCounter;
                    c.R[0] = (uint)tsc;
                    c.R[2] = (uint)(tsc >> 32);
                }
                else
                {
                    // The counter goes on from the value written (all 64 bits, as on a P6).
                    ulong value = ((ulong)c.R[2] << 32) | c.R[0];
                    c._tscOffset += (long)(value - c.TimeStampCounter);
                }

                break;
            case ApicBaseMsr when c.ApicBase != 0:
                if (i.Op == 0)
                {
                    c.R[0] = c.ApicBase;
                    c.R[2] = 0;
                }
                else if (c.R[0] != c.ApicBase || c.R[2] != 0)
                {
                    c.UnsupportedReason = $"WRMSR IA32_APIC_BASE {c.R[2]:x8}{c.R[0]:x8} (was {c.ApicBase:x8}): relocating or disabling the local APIC";
                    c.AbortBlock = true;
                }

                break;
            case EferMsr:
                if (i.Op == 0)
                {
                    c.R[0] = c.Efer;
                    c.R[2] = 0;
                }
                else if (c.R[2] != 0 || (c.R[0] & ~EFER_NXE) != 0)
                {
                    throw c.Fault(Vectors.GP, 0); // SCE, LME and the rest belong to CPUs this one is not
                }
                else
                {
                    c.Efer = c.R[0];
                    c.AbortBlock = true;
                }

                break;
            default:
                throw c.Fault(Vectors.GP, 0);
        }
    }

    // ---- Segment registers and far transfers -------------------------------------------

    internal static void MovToSeg(Cpu c, ref Insn i)
    {
        ushort sel = (ushort)((i.Form & FormOp1Mem) != 0 ? c.Read16(c.Linear(ref i, 2, false)) : c.GetReg(i.R1, 2));
        c.LoadSegment(i.R0, sel);
        if (i.R0 == (int)SegReg.SS)
            c.InterruptShadow = true;
        c.AbortBlock = true;
    }

    internal static void MovFromSeg(Cpu c, ref Insn i)
    {
        ushort sel = c.Segs[i.R1].Selector;
        if ((i.Form & FormOp0Mem) != 0)
            c.Write16(c.Linear(ref i, 2, true), sel);
        else
            c.SetReg(i.R0, i.Size, sel);
    }

    /// <summary>LDS/LES/LFS/LGS/LSS: R0 = register, Op = segment, memory holds offset then selector.</summary>
    internal static void LoadFarPointer(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, size + 2, false);
        uint offset = c.Read(lin, size);
        ushort sel = c.Read16(lin + (uint)size);
        c.LoadSegment(i.Op, sel);
        c.SetReg(i.R0, size, offset);
        if (i.Op == (int)SegReg.SS)
            c.InterruptShadow = true;
        c.AbortBlock = true;
    }

    /// <summary>JMP/CALL far with an immediate pointer: selector in Imm2, offset in Imm; Op 1 = call.</summary>
    internal static void FarDirect(Cpu c, ref Insn i)
    {
        if (i.Op == 0)
            c.FarJump((ushort)i.Imm2, i.Imm);
        else
            c.FarCall((ushort)i.Imm2, i.Imm, i.Size);
    }

    /// <summary>JMP/CALL far through a memory pointer (offset then selector); Op 1 = call.</summary>
    internal static void FarIndirect(Cpu c, ref Insn i)
    {
        int size = i.Size;
        uint lin = c.Linear(ref i, size + 2, false);
        uint offset = c.Read(lin, size);
        ushort sel = c.Read16(lin + (uint)size);
        if (i.Op == 0)
            c.FarJump(sel, offset);
        else
            c.FarCall(sel, offset, size);
    }

    internal static void RetFar(Cpu c, ref Insn i) => c.FarReturn(i.Size, i.Imm);

    internal static void Iret(Cpu c, ref Insn i) => c.InterruptReturn(i.Size);

    /// <summary>ARPL r/m16, r16: raise the RPL of the destination selector to the source's.</summary>
    internal static void Arpl(Cpu c, ref Insn i)
    {
        c.RequireProtectedMode();
        uint dest = c.ReadOp0(ref i);
        uint src = c.GetReg(i.R1, 2);
        if ((dest & 3) < (src & 3))
        {
            c.WriteOp0(ref i, (dest & ~3u) | (src & 3));
            c.SetArith(ZF, ZF);
        }
        else
        {
            c.SetArith(0, ZF);
        }
    }

    // The system descriptor types (bit per type) whose access rights LAR reports: the TSSs (16- and 32-bit,
    // available and busy), the LDT, the call gates and the task gate. Interrupt and trap gates and the
    // reserved types clear ZF.
    private const int LarSystemTypes = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 9 | 1 << 11 | 1 << 12;

    // LSL: only the types that have a limit, the TSSs and the LDT; every gate clears ZF.
    private const int LslSystemTypes = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 9 | 1 << 11;

    private static int DescSystemType(ulong d) => (int)((d >> 40) & 0xF);

    /// <summary>LAR (Op 0) and LSL (1): the access rights or limit of a selector when the CPL may see it, ZF otherwise clear.</summary>
    internal static void LoadAccessOrLimit(Cpu c, ref Insn i)
    {
        c.RequireProtectedMode();
        ushort sel = (ushort)((i.Form & FormOp1Mem) != 0 ? c.Read16(c.Linear(ref i, 2, false)) : c.GetReg(i.R1, 2));
        if ((sel & 0xFFFC) == 0 || !c.DescriptorInTable(sel))
        {
            c.SetArith(0, ZF);
            return;
        }

        // Only a selector outside its table clears ZF; a page fault reading the table is delivered as any other.
        ulong d = c.ReadDescriptor(sel, out _);

        int dpl = DescDpl(d);
        // Type 0xC (a call gate) has the code and conforming bits' pattern: only a segment can be conforming.
        bool visible = (DescIsSegment(d) && DescConforming(d)) || (dpl >= c.CplValue && dpl >= (sel & 3));
        bool validType = DescIsSegment(d) || ((i.Op == 0 ? LarSystemTypes : LslSystemTypes) & (1 << DescSystemType(d))) != 0;
        if (!visible || !validType)
        {
            c.SetArith(0, ZF);
            return;
        }

        var cache = SegmentCache.FromDescriptor(sel, d);
        uint value = i.Op == 0 ? (uint)((d >> 32) & 0x00F0FF00) : cache.Limit;
        c.SetReg(i.R0, i.Size, value & SizeMask(i.Size));
        c.SetArith(ZF, ZF);
    }

    /// <summary>
    /// VERR (Op 0) and VERW (1): ZF set when the selector names a code or data segment the CPL may see
    /// (conforming code needs no DPL check) that is readable (data, or code with R) or writable (data with W).
    /// A null selector or one outside its table clears ZF; nothing faults but reading the table.
    /// </summary>
    internal static void VerifySegment(Cpu c, ref Insn i)
    {
        c.RequireProtectedMode();
        ushort sel = (ushort)((i.Form & FormOp0Mem) != 0 ? c.Read16(c.Linear(ref i, 2, false)) : c.GetReg(i.R0, 2));
        if ((sel & 0xFFFC) == 0 || !c.DescriptorInTable(sel))
        {
            c.SetArith(0, ZF);
            return;
        }

        ulong d = c.ReadDescriptor(sel, out _);
        int dpl = DescDpl(d);
        bool visible = DescIsSegment(d) && ((i.Op == 0 && DescConforming(d)) || (dpl >= c.CplValue && dpl >= (sel & 3)));
        bool allowed = i.Op == 0
            ? !DescIsCode(d) || DescReadableOrWritable(d)
            : !DescIsCode(d) && DescReadableOrWritable(d);
        c.SetArith(visible && allowed ? ZF : 0, ZF);
    }
}

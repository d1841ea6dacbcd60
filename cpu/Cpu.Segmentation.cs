namespace MiniHv.Cpu;

/// <summary>
/// Protected-mode segmentation: descriptor reads from the GDT and LDT, segment register loads
/// with their type, privilege and presence checks, and the far transfers (JMP, CALL, RET, IRET)
/// between code segments. Call gates and task switches are not modelled. In real mode each of
/// these hands over to its counterpart in Cpu.RealMode.cs.
/// </summary>
public sealed unsafe partial class Cpu
{
    private const ulong DescAccessed = 1ul << 40;

    /// <summary>Read the 8-byte descriptor of a selector; #GP(selector) when it lies outside its table.</summary>
    internal ulong ReadDescriptor(ushort selector, out uint address, int ext = 0)
    {
        uint index = (uint)(selector & ~7);
        uint tableBase, tableLimit;
        if ((selector & 4) != 0)
        {
            if (Ldtr.IsNull)
                throw Fault(Vectors.GP, (selector & 0xFFFC) | ext);
            tableBase = Ldtr.Base;
            tableLimit = Ldtr.Limit;
        }
        else
        {
            tableBase = Gdtr.Base;
            tableLimit = Gdtr.Limit;
        }

        if (index + 7 > tableLimit)
            throw Fault(Vectors.GP, (selector & 0xFFFC) | ext);
        address = tableBase + index;
        return ReadSupervisor64(address);
    }

    /// <summary>True when the selector's descriptor lies inside its table: the GDT, or an LDT that is loaded.</summary>
    internal bool DescriptorInTable(ushort selector)
    {
        uint index = (uint)(selector & ~7);
        if ((selector & 4) != 0)
            return !Ldtr.IsNull && index + 7 <= Ldtr.Limit;
        return index + 7 <= Gdtr.Limit;
    }

    private void MarkAccessed(ulong descriptor, uint address)
    {
        if ((descriptor & DescAccessed) == 0)
            WriteSupervisor(address + 5, 1, (uint)((descriptor >> 40) & 0xFF) | 1);
    }

    private static int DescDpl(ulong d) => (int)((d >> 45) & 3);

    private static bool DescPresent(ulong d) => (d & (1ul << 47)) != 0;

    private static bool DescIsSegment(ulong d) => (d & (1ul << 44)) != 0;

    private static bool DescIsCode(ulong d) => (d & (1ul << 43)) != 0;

    private static bool DescConforming(ulong d) => DescIsCode(d) && (d & (1ul << 42)) != 0;

    private static bool DescReadableOrWritable(ulong d) => (d & (1ul << 41)) != 0;

    /// <summary>MOV/POP/LDS-style load of a data or stack segment register, with every check the architecture makes.</summary>
    internal void LoadSegment(int seg, ushort selector)
    {
        if (seg == (int)SegReg.CS)
            throw Fault(Vectors.UD);
        if (RealMode)
        {
            LoadRealModeSegment(seg, selector);
            return;
        }

        if ((selector & 0xFFFC) == 0)
        {
            if (seg == (int)SegReg.SS)
                throw Fault(Vectors.GP, 0);
            var cache = default(SegmentCache);
            cache.Selector = selector;
            cache.IsNull = true;
            SetSegmentCache((SegReg)seg, cache);
            return;
        }

        ulong d = ReadDescriptor(selector, out uint address);
        int rpl = selector & 3, dpl = DescDpl(d);
        int err = selector & 0xFFFC;
        if (!DescIsSegment(d))
            throw Fault(Vectors.GP, err);
        if (seg == (int)SegReg.SS)
        {
            if (rpl != CplValue || dpl != CplValue || DescIsCode(d) || !DescReadableOrWritable(d))
                throw Fault(Vectors.GP, err);
            if (!DescPresent(d))
                throw Fault(Vectors.SS, err);
        }
        else
        {
            if (DescIsCode(d) && !DescReadableOrWritable(d))
                throw Fault(Vectors.GP, err);
            if (!DescConforming(d) && (rpl > dpl || CplValue > dpl))
                throw Fault(Vectors.GP, err);
            if (!DescPresent(d))
                throw Fault(Vectors.NP, err);
        }

        MarkAccessed(d, address);
        SetSegmentCache((SegReg)seg, SegmentCache.FromDescriptor(selector, d | DescAccessed));
    }

    /// <summary>Checks for a far JMP/CALL target code segment at the same privilege; returns its descriptor.</summary>
    private ulong CheckFarCodeTarget(ushort selector, out uint address)
    {
        if ((selector & 0xFFFC) == 0)
            throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(selector, out address);
        int err = selector & 0xFFFC;
        if (!DescIsSegment(d))
        {
            UnsupportedReason = $"far transfer through a gate or TSS (selector {selector:x4})";
            throw Fault(Vectors.GP, err);
        }

        if (!DescIsCode(d))
            throw Fault(Vectors.GP, err);
        int dpl = DescDpl(d), rpl = selector & 3;
        if (DescConforming(d) ? dpl > CplValue : (rpl > CplValue || dpl != CplValue))
            throw Fault(Vectors.GP, err);
        if (!DescPresent(d))
            throw Fault(Vectors.NP, err);
        return d;
    }

    private void LoadCs(ushort selector, ulong d, uint address, int cpl)
    {
        MarkAccessed(d, address);
        var cache = SegmentCache.FromDescriptor((ushort)((selector & 0xFFFC) | cpl), d | DescAccessed);
        SetSegmentCache(SegReg.CS, cache);
        AbortBlock = true;
    }

    private void CheckCodeLimit(ulong descriptor, uint eip)
    {
        var cache = SegmentCache.FromDescriptor(0, descriptor);
        if (eip > cache.Limit)
            throw Fault(Vectors.GP, 0);
    }

    internal void FarJump(ushort selector, uint offset)
    {
        if (RealMode)
        {
            RealModeFarJump(selector, offset);
            return;
        }

        ulong d = CheckFarCodeTarget(selector, out uint address);
        CheckCodeLimit(d, offset);
        LoadCs(selector, d, address, CplValue);
        EipValue = offset;
    }

    internal void FarCall(ushort selector, uint offset, int size)
    {
        if (RealMode)
        {
            RealModeFarCall(selector, offset, size);
            return;
        }

        ulong d = CheckFarCodeTarget(selector, out uint address);
        CheckCodeLimit(d, offset);
        uint savedEsp = R[4];
        try
        {
            PushSized(Segs[(int)SegReg.CS].Selector, size);
            PushSized(size == 2 ? EipValue & 0xFFFF : EipValue, size);
        }
        catch (GuestFault)
        {
            R[4] = savedEsp;
            throw;
        }

        LoadCs(selector, d, address, CplValue);
        EipValue = offset;
    }

    /// <summary>RETF [imm16]: to the same privilege, or outward with the caller's SS:ESP popped too.</summary>
    internal void FarReturn(int size, uint release)
    {
        if (RealMode)
        {
            RealModeFarReturn(size, release);
            return;
        }

        uint eip = PeekStack(0, size);
        ushort cs = (ushort)PeekStack((uint)size, size);
        int rpl = cs & 3;
        if ((cs & 0xFFFC) == 0)
            throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(cs, out uint address);
        int err = cs & 0xFFFC;
        if (!DescIsSegment(d) || !DescIsCode(d) || rpl < CplValue)
            throw Fault(Vectors.GP, err);
        int dpl = DescDpl(d);
        if (DescConforming(d) ? dpl > rpl : dpl != rpl)
            throw Fault(Vectors.GP, err);
        if (!DescPresent(d))
            throw Fault(Vectors.NP, err);
        CheckCodeLimit(d, eip);

        if (rpl == CplValue)
        {
            PopSized(size);
            PopSized(size);
            AdjustSp(release);
            LoadCs(cs, d, address, rpl);
            EipValue = eip;
            return;
        }

        uint esp = PeekStack((uint)(2 * size) + release, size);
        ushort ss = (ushort)PeekStack((uint)(3 * size) + release, size);
        ulong ssDesc = CheckStackSelector(ss, rpl, out uint ssAddress);
        LoadCs(cs, d, address, rpl);
        CommitStack(ss, ssDesc, ssAddress);
        R[4] = size == 2 ? (R[4] & 0xFFFF0000) | (esp & 0xFFFF) : esp;
        AdjustSp(release);
        EipValue = eip;
        NullDataSegmentsAbovePrivilege();
    }

    private void AdjustSp(uint bytes)
    {
        if (StackIs32)
            R[4] += bytes;
        else
            SetReg(4, 2, R[4] + bytes);
    }

    /// <summary>Check SS for a transfer to privilege <paramref name="cpl"/>; returns its descriptor without loading it.</summary>
    internal ulong CheckStackSelector(ushort ss, int cpl, out uint address, int faultVector = Vectors.GP, int ext = 0)
    {
        int err = (ss & 0xFFFC) | ext;
        if ((ss & 0xFFFC) == 0)
            throw Fault(faultVector, ext);
        ulong d = ReadDescriptor(ss, out address, ext);
        if ((ss & 3) != cpl || DescDpl(d) != cpl || !DescIsSegment(d) || DescIsCode(d) || !DescReadableOrWritable(d))
            throw Fault(faultVector, err);
        if (!DescPresent(d))
            throw Fault(faultVector == Vectors.TS ? Vectors.TS : Vectors.SS, err);
        return d;
    }

    internal void CommitStack(ushort ss, ulong d, uint address)
    {
        MarkAccessed(d, address);
        SetSegmentCache(SegReg.SS, SegmentCache.FromDescriptor(ss, d | DescAccessed));
    }

    /// <summary>After a return to an outer level, data segments the new CPL may not use become null.</summary>
    private void NullDataSegmentsAbovePrivilege()
    {
        foreach (int seg in stackalloc[] { (int)SegReg.ES, (int)SegReg.DS, (int)SegReg.FS, (int)SegReg.GS })
        {
            ref SegmentCache s = ref Segs[seg];
            if (s.IsNull)
                continue;
            bool conformingCode = s.IsCode && (s.Attributes & 0x4) != 0;
            if (!conformingCode && s.Dpl < CplValue)
            {
                var cache = default(SegmentCache);
                cache.IsNull = true;
                SetSegmentCache((SegReg)seg, cache);
            }
        }
    }

    /// <summary>IRET/IRETD in protected mode, to the same or an outer privilege level.</summary>
    internal void InterruptReturn(int size)
    {
        NmiHandlerReturned();
        if (RealMode)
        {
            RealModeInterruptReturn(size);
            return;
        }

        if ((FlagsRest & NT) != 0)
        {
            UnsupportedReason = "IRET with NT set (task return)";
            throw Fault(Vectors.GP, 0);
        }

        uint eip = PeekStack(0, size);
        ushort cs = (ushort)PeekStack((uint)size, size);
        uint flags = PeekStack((uint)(2 * size), size);
        int rpl = cs & 3;
        if ((cs & 0xFFFC) == 0)
            throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(cs, out uint address);
        int err = cs & 0xFFFC;
        if (!DescIsSegment(d) || !DescIsCode(d) || rpl < CplValue)
            throw Fault(Vectors.GP, err);
        int dpl = DescDpl(d);
        if (DescConforming(d) ? dpl > rpl : dpl != rpl)
            throw Fault(Vectors.GP, err);
        if (!DescPresent(d))
            throw Fault(Vectors.NP, err);
        CheckCodeLimit(d, eip);

        if (rpl == CplValue)
        {
            PopSized(size);
            PopSized(size);
            PopSized(size);
            WriteFlagsFromStack(flags, size);
            LoadCs(cs, d, address, rpl);
            EipValue = eip;
            return;
        }

        uint esp = PeekStack((uint)(3 * size), size);
        ushort ss = (ushort)PeekStack((uint)(4 * size), size);
        ulong ssDesc = CheckStackSelector(ss, rpl, out uint ssAddress);

        // Flags follow the rules of the privilege being left.
        WriteFlagsFromStack(flags, size);
        LoadCs(cs, d, address, rpl);
        CommitStack(ss, ssDesc, ssAddress);
        R[4] = size == 2 ? (R[4] & 0xFFFF0000) | (esp & 0xFFFF) : esp;
        EipValue = eip;
        NullDataSegmentsAbovePrivilege();
    }
}

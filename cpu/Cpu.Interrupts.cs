namespace MiniHv.Cpu;

/// <summary>
/// Interrupt and exception delivery: in protected mode through the IDT (interrupt and trap gates,
/// a stack switch through the TSS when privilege changes, error codes), in real mode through the vector
/// table, and the double-fault and triple-fault rules for an exception raised while delivering another.
/// </summary>
public sealed unsafe partial class Cpu
{
    private static bool IsContributory(int v) => v is Vectors.DE or Vectors.TS or Vectors.NP or Vectors.SS or Vectors.GP;

    private static bool HasErrorCode(int v) => v is Vectors.DF or Vectors.TS or Vectors.NP or Vectors.SS or Vectors.GP or Vectors.PF or Vectors.AC;

    /// <summary>INT n, INT3, INTO: the gate's DPL must admit the current CPL.</summary>
    internal void SoftwareInterrupt(int vector, bool checkDpl)
    {
        // INT3 and INTO raise exceptions a fault log wants to see; INT n of a system call does not, nor, in
        // real mode, a call of a BIOS service (int 0x13 is no SIMD exception).
        if (vector < 32 && !RealMode)
            Record(vector, -1, external: false);
        DeliveryObserver?.Invoke(new DeliveryEvent(vector, -1, DeliverySource.Software, -1, CurrentInstructionEip));
        Deliver(vector, -1, software: checkDpl, ext: 0, hardware: false);
        AbortBlock = true;
    }

    /// <summary>
    /// Deliver an exception or external interrupt, applying the double-fault rules when delivery
    /// itself faults. Returns false when the processor shuts down (triple fault).
    /// </summary>
    internal bool RaiseException(int vector, int errorCode, bool external)
    {
        // An exception or interrupt is an event from outside the program: a fault while delivering it
        // sets EXT in its error code (only INT n, INT3 and INTO, delivered elsewhere, leave it clear).
        int ext = 1;
        int first = vector;
        int previous = -1;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            Record(vector, errorCode, external, interrupt: external && attempt == 0);
            DeliveryObserver?.Invoke(new DeliveryEvent(vector, HasErrorCode(vector) ? errorCode : -1,
                external && attempt == 0 ? DeliverySource.Hardware : DeliverySource.Exception, previous, EipValue));
            previous = vector;
            try
            {
                Deliver(vector, HasErrorCode(vector) ? errorCode : -1, software: false, ext, hardware: external && attempt == 0);
                return true;
            }
            catch (GuestFault f)
            {
                if (vector == Vectors.DF)
                {
                    Record(f.Vector, f.ErrorCode, external);
                    return false;
                }

                bool doubleFault = (IsContributory(first) && IsContributory(f.Vector))
                    || (first == Vectors.PF && (f.Vector == Vectors.PF || IsContributory(f.Vector)));
                if (doubleFault)
                {
                    vector = Vectors.DF;
                    errorCode = 0;
                }
                else
                {
                    vector = f.Vector;
                    errorCode = f.ErrorCode;
                }

                first = vector;
                ext = 1;
            }
        }

        return false;
    }

    /// <param name="interrupt">The event is a hardware interrupt itself, not an exception (whatever its vector: an unremapped PIC sends IRQ 0 on vector 8).</param>
    private void Record(int vector, int errorCode, bool external, bool interrupt = false)
    {
        var record = new FaultRecord(vector, HasErrorCode(vector) ? errorCode : -1, EipValue, Cr2Value, _cr3, CplValue, external)
        {
            Interrupt = interrupt,
            Processor = InitialApicId,
        };
        LastFault = record;
        FaultObserver?.Invoke(record);
    }

    /// <summary>One delivery attempt through the IDT gate of <paramref name="vector"/> (the vector table in real mode).</summary>
    /// <param name="hardware">An interrupt from the interrupt controller, for the message when real mode finds no handler.</param>
    private void Deliver(int vector, int errorCode, bool software, int ext, bool hardware)
    {
        if (RealMode)
        {
            RealModeDeliver(vector, software, hardware);
            return;
        }

        Halted = false;
        uint gateOffset = (uint)vector * 8;
        int idtErr = (int)gateOffset | 2 | ext;
        if (gateOffset + 7 > Idtr.Limit)
            throw Fault(Vectors.GP, idtErr);
        ulong gate = ReadSupervisor64(Idtr.Base + gateOffset);
        int type = (int)((gate >> 40) & 0x1F);
        bool gate32;
        bool trapGate;
        switch (type)
        {
            case 0x0E: gate32 = true; trapGate = false; break;
            case 0x0F: gate32 = true; trapGate = true; break;
            case 0x06: gate32 = false; trapGate = false; break;
            case 0x07: gate32 = false; trapGate = true; break;
            case 0x05:
                UnsupportedReason = $"task gate in IDT entry {vector}";
                throw Fault(Vectors.GP, idtErr);
            default:
                throw Fault(Vectors.GP, idtErr);
        }

        if (software && DescDpl(gate) < CplValue)
            throw Fault(Vectors.GP, idtErr);
        if (!DescPresent(gate))
            throw Fault(Vectors.NP, idtErr);

        ushort selector = (ushort)(gate >> 16);
        uint offset = (uint)(gate & 0xFFFF) | (uint)((gate >> 32) & 0xFFFF0000);
        if (!gate32)
            offset &= 0xFFFF;
        if ((selector & 0xFFFC) == 0)
            throw Fault(Vectors.GP, ext);
        ulong code = ReadDescriptor(selector, out uint codeAddress, ext);
        int codeErr = (selector & 0xFFFC) | ext;
        if (!DescIsSegment(code) || !DescIsCode(code) || DescDpl(code) > CplValue)
            throw Fault(Vectors.GP, codeErr);
        if (!DescPresent(code))
            throw Fault(Vectors.NP, codeErr);
        CheckCodeLimit(code, offset);

        int size = gate32 ? 4 : 2;
        uint flags = GetEflags();
        int newCpl = DescConforming(code) ? CplValue : DescDpl(code);
        ushort oldCs = Segs[(int)SegReg.CS].Selector;
        uint oldEip = EipValue;

        if (newCpl < CplValue)
        {
            // Inner level: the new stack comes from the TSS (only 32-bit TSSs are modelled).
            uint tssEntry = (uint)(4 + (newCpl * 8));
            if (Tr.IsNull || tssEntry + 5 > Tr.Limit)
                throw Fault(Vectors.TS, (Tr.Selector & 0xFFFC) | ext);
            uint newEsp = ReadSupervisor(Tr.Base + tssEntry, 4);
            ushort newSs = (ushort)ReadSupervisor(Tr.Base + tssEntry + 4, 2);
            ulong ssDesc = CheckStackSelector(newSs, newCpl, out uint ssAddress, Vectors.TS, ext);
            var ssCache = SegmentCache.FromDescriptor(newSs, ssDesc);
            ushort oldSs = Segs[(int)SegReg.SS].Selector;
            uint oldEsp = R[4];

            int words = 5 + (errorCode >= 0 ? 1 : 0);
            uint sp = ssCache.Big ? newEsp : newEsp & 0xFFFF;
            uint frameTop = sp - (uint)(words * size);
            Span<uint> frame = stackalloc uint[6];
            int n = 0;
            if (errorCode >= 0)
                frame[n++] = (uint)errorCode;
            frame[n++] = oldEip;
            frame[n++] = oldCs;
            frame[n++] = flags;
            frame[n++] = oldEsp;
            frame[n++] = oldSs;
            for (int k = 0; k < n; k++)
            {
                uint slot = frameTop + (uint)(k * size);
                if (!ssCache.Big)
                    slot &= 0xFFFF;
                WriteSupervisor(ssCache.Base + slot, size, frame[k]);
            }

            MarkAccessed(code, codeAddress);
            SetSegmentCache(SegReg.CS, SegmentCache.FromDescriptor((ushort)((selector & 0xFFFC) | newCpl), code | DescAccessed));
            CommitStack(newSs, ssDesc, ssAddress);
            if (ssCache.Big)
                R[4] = frameTop;
            else
                SetReg(4, 2, frameTop);
        }
        else
        {
            uint savedEsp = R[4];
            try
            {
                PushSized(flags, size);
                PushSized(oldCs, size);
                PushSized(oldEip, size);
                if (errorCode >= 0)
                    PushSized((uint)errorCode, size);
            }
            catch (GuestFault)
            {
                R[4] = savedEsp;
                throw;
            }

            MarkAccessed(code, codeAddress);
            SetSegmentCache(SegReg.CS, SegmentCache.FromDescriptor((ushort)((selector & 0xFFFC) | CplValue), code | DescAccessed));
        }

        uint clear = TF | NT | RF | VM | (trapGate ? 0 : IF);
        FlagsRest &= ~clear;
        EipValue = offset;
        AbortBlock = true;
    }
}

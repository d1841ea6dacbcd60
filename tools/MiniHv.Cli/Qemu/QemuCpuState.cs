using System.Text;
using MiniHv.Cpu;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// A processor's state in the layout QEMU 7.2's <c>-d int</c> and <c>-d cpu_reset</c> write it (its i386 CPU dump with the
/// condition-code line), so that a student's habits and scripts carry over. Segment flags are the descriptor's high
/// word as QEMU keeps it (bits 8-23); the condition codes are given as QEMU gives them once it has computed EFLAGS
/// (CCO=EFLAGS, CCS the arithmetic flags), since MiniHv's own lazy flags are not QEMU's.
/// </summary>
internal static class QemuCpuState
{
    private static readonly string[] SystemTypes =
    [
        "Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate", "IntGate16", "TrapGate16",
        "Reserved", "TSS32-avl", "Reserved", "TSS32-busy", "CallGate32", "Reserved", "IntGate32", "TrapGate32",
    ];

    /// <param name="eip">EIP to show instead of the processor's (QEMU shows an INT instruction's own address while delivering it).</param>
    public static string Format(MiniHv.Cpu.Cpu cpu, uint? eip = null)
    {
        var s = new StringBuilder();
        s.Append($"EAX={cpu.Eax:x8} EBX={cpu.Ebx:x8} ECX={cpu.Ecx:x8} EDX={cpu.Edx:x8}\n");
        s.Append($"ESI={cpu.Esi:x8} EDI={cpu.Edi:x8} EBP={cpu.Ebp:x8} ESP={cpu.Esp:x8}\n");
        uint eflags = cpu.Eflags;
        s.Append($"EIP={eip ?? cpu.Eip:x8} EFL={eflags:x8} [{FlagLetters(eflags)}] CPL={cpu.Cpl} II={(cpu.InInterruptShadow ? 1 : 0)} "
            + $"A20={(cpu.A20Enabled ? 1 : 0)} SMM=0 HLT={(cpu.IsHalted ? 1 : 0)}\n");
        bool protectedMode = (cpu.Cr0 & MiniHv.Cpu.Cpu.CR0_PE) != 0;
        foreach (SegReg seg in new[] { SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS })
            Segment(s, seg.ToString(), cpu.GetSegment(seg), protectedMode);
        Segment(s, "LDT", cpu.Ldtr, protectedMode);
        Segment(s, "TR", cpu.Tr, protectedMode);
        s.Append($"GDT=     {cpu.Gdtr.Base:x8} {cpu.Gdtr.Limit:x8}\n");
        s.Append($"IDT=     {cpu.Idtr.Base:x8} {cpu.Idtr.Limit:x8}\n");
        s.Append($"CR0={cpu.Cr0:x8} CR2={cpu.Cr2:x8} CR3={cpu.Cr3:x8} CR4={cpu.Cr4:x8}\n");
        for (int i = 0; i < 4; i++)
            s.Append($"DR{i}={cpu.DebugRegister(i):x8} ");
        s.Append($"\nDR6={cpu.DebugRegister(6):x8} DR7={cpu.DebugRegister(7):x8}\n");
        s.Append($"CCS={eflags & 0x8D5:x8} CCD=00000000 CCO=EFLAGS\n");
        s.Append($"EFER={(ulong)cpu.Efer:x16}\n");
        return s.ToString();
    }

    /// <summary>DF, OF, SF, ZF, AF, PF, CF as QEMU shows them: the letter when set, '-' when clear.</summary>
    private static string FlagLetters(uint f) => string.Concat(
        (f & MiniHv.Cpu.Cpu.DF) != 0 ? 'D' : '-', (f & MiniHv.Cpu.Cpu.OF) != 0 ? 'O' : '-', (f & MiniHv.Cpu.Cpu.SF) != 0 ? 'S' : '-',
        (f & MiniHv.Cpu.Cpu.ZF) != 0 ? 'Z' : '-', (f & MiniHv.Cpu.Cpu.AF) != 0 ? 'A' : '-', (f & MiniHv.Cpu.Cpu.PF) != 0 ? 'P' : '-',
        (f & MiniHv.Cpu.Cpu.CF) != 0 ? 'C' : '-');

    private static void Segment(StringBuilder s, string name, SegmentCache c, bool protectedMode)
    {
        // The descriptor's high word as QEMU keeps it: access byte, limit bits 19-16, G/DB/L/AVL.
        uint rawLimitHigh = ((c.Attributes & 0x8000) != 0 ? c.Limit >> 28 : c.Limit >> 16) & 0xF;
        uint flags = ((uint)c.Attributes << 8 & 0x00F0_FF00) | rawLimitHigh << 16;
        s.Append($"{name,-3}={c.Selector:x4} {c.Base:x8} {c.Limit:x8} {flags:x8}");
        if (protectedMode && c.Present)
        {
            s.Append($" DPL={c.Dpl} ");
            if ((c.Attributes & 0x10) == 0)
                s.Append(SystemTypes[c.Type]);
            else if (c.IsCode)
                s.Append(c.Big ? "CS32" : "CS16").Append(" [").Append((c.Attributes & 4) != 0 ? 'C' : '-').Append((c.Attributes & 2) != 0 ? 'R' : '-');
            else
                s.Append(c.Big ? "DS  " : "DS16").Append(" [").Append((c.Attributes & 4) != 0 ? 'E' : '-').Append((c.Attributes & 2) != 0 ? 'W' : '-');
            if ((c.Attributes & 0x10) != 0)
                s.Append((c.Attributes & 1) != 0 ? 'A' : '-').Append(']');
        }

        s.Append('\n');
    }
}

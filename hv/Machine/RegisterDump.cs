using System.Text;
using MiniHv.Cpu;

namespace MiniHv.Hv.Machine;

/// <summary>
/// A processor's state as text, laid out like QEMU's <c>info registers</c> (which the patched QEMU of OS
/// courses prints on a triple fault), with EFLAGS and the control registers decoded as well.
/// </summary>
public static class RegisterDump
{
    private static readonly (uint Bit, string Name)[] FlagNames =
    [
        (Cpu.Cpu.CF, "CF"), (Cpu.Cpu.PF, "PF"), (Cpu.Cpu.AF, "AF"), (Cpu.Cpu.ZF, "ZF"), (Cpu.Cpu.SF, "SF"),
        (Cpu.Cpu.TF, "TF"), (Cpu.Cpu.IF, "IF"), (Cpu.Cpu.DF, "DF"), (Cpu.Cpu.OF, "OF"),
        (1u << 14, "NT"), (1u << 16, "RF"), (1u << 17, "VM"), (1u << 18, "AC"), (1u << 21, "ID"),
    ];

    private static readonly (uint Bit, string Name)[] Cr0Names =
    [
        (Cpu.Cpu.CR0_PG, "PG"), (Cpu.Cpu.CR0_CD, "CD"), (Cpu.Cpu.CR0_NW, "NW"), (Cpu.Cpu.CR0_AM, "AM"),
        (Cpu.Cpu.CR0_WP, "WP"), (Cpu.Cpu.CR0_NE, "NE"), (Cpu.Cpu.CR0_ET, "ET"), (Cpu.Cpu.CR0_TS, "TS"),
        (Cpu.Cpu.CR0_EM, "EM"), (Cpu.Cpu.CR0_MP, "MP"), (Cpu.Cpu.CR0_PE, "PE"),
    ];

    /// <summary>The full dump, one register group per line.</summary>
    public static string Format(Cpu.Cpu cpu, IEnumerable<FaultRecord>? recentFaults = null)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        var s = new StringBuilder();
        s.Append($"EAX={cpu.Eax:x8} EBX={cpu.Ebx:x8} ECX={cpu.Ecx:x8} EDX={cpu.Edx:x8}\n");
        s.Append($"ESI={cpu.Esi:x8} EDI={cpu.Edi:x8} EBP={cpu.Ebp:x8} ESP={cpu.Esp:x8}\n");
        uint eflags = cpu.Eflags;
        s.Append($"EIP={cpu.Eip:x8} EFL={eflags:x8} [{QemuFlagLetters(eflags)}] CPL={cpu.Cpl} IOPL={(eflags >> 12) & 3} HLT={(cpu.IsHalted ? 1 : 0)}\n");
        s.Append($"EFLAGS {Decode(eflags, FlagNames)}\n");
        foreach (SegReg seg in new[] { SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS })
            s.Append(Segment($"{seg,-3}", cpu.GetSegment(seg))).Append('\n');
        s.Append(Segment("LDT", cpu.Ldtr)).Append('\n');
        s.Append(Segment("TR ", cpu.Tr)).Append('\n');
        s.Append($"GDT=     {cpu.Gdtr.Base:x8} {cpu.Gdtr.Limit:x8}\n");
        s.Append($"IDT=     {cpu.Idtr.Base:x8} {cpu.Idtr.Limit:x8}\n");
        s.Append($"CR0={cpu.Cr0:x8} CR2={cpu.Cr2:x8} CR3={cpu.Cr3:x8} CR4={cpu.Cr4:x8}\n");
        s.Append($"CR0 {Decode(cpu.Cr0, Cr0Names)}  CR4 {Decode(cpu.Cr4, [(Cpu.Cpu.CR4_PSE, "PSE"), (Cpu.Cpu.CR4_PGE, "PGE")])}\n");
        s.Append($"DR0={cpu.DebugRegister(0):x8} DR1={cpu.DebugRegister(1):x8} DR2={cpu.DebugRegister(2):x8} DR3={cpu.DebugRegister(3):x8}\n");
        s.Append($"DR6={cpu.DebugRegister(6):x8} DR7={cpu.DebugRegister(7):x8}\n");
        s.Append($"instructions {cpu.InstructionsExecuted}\n");
        if (recentFaults != null)
        {
            foreach (FaultRecord f in recentFaults)
                s.Append(FormatFault(f)).Append('\n');
        }

        return s.ToString();
    }

    /// <summary>One exception as a line: "#PF(0x0002) Page Fault at eip=... cr2=... cr3=... cpl=3".</summary>
    public static string FormatFault(FaultRecord f)
    {
        string err = f.ErrorCode >= 0 ? $"(0x{f.ErrorCode:x4})" : "";
        string cr2 = f.Vector == Vectors.PF ? $" cr2={f.Cr2:x8}" : "";
        string origin = f.External ? " (external)" : "";
        return $"fault v={f.Vector:x2}{err} {Vectors.Name(f.Vector)} at eip={f.Eip:x8}{cr2} cr3={f.Cr3:x8} cpl={f.Cpl}{origin}";
    }

    /// <summary>QEMU's seven flag letters: D O S Z A P C, a dash where clear.</summary>
    private static string QemuFlagLetters(uint f)
    {
        Span<char> c = stackalloc char[7];
        c[0] = (f & Cpu.Cpu.DF) != 0 ? 'D' : '-';
        c[1] = (f & Cpu.Cpu.OF) != 0 ? 'O' : '-';
        c[2] = (f & Cpu.Cpu.SF) != 0 ? 'S' : '-';
        c[3] = (f & Cpu.Cpu.ZF) != 0 ? 'Z' : '-';
        c[4] = (f & Cpu.Cpu.AF) != 0 ? 'A' : '-';
        c[5] = (f & Cpu.Cpu.PF) != 0 ? 'P' : '-';
        c[6] = (f & Cpu.Cpu.CF) != 0 ? 'C' : '-';
        return new string(c);
    }

    private static string Decode(uint value, (uint Bit, string Name)[] names)
    {
        var set = names.Where(n => (value & n.Bit) != 0).Select(n => n.Name).ToList();
        return set.Count == 0 ? "(none)" : string.Join(" ", set);
    }

    private static string Segment(string name, SegmentCache s)
    {
        uint flags = (uint)s.Attributes << 8;
        string kind;
        if (s.IsNull)
            kind = "null";
        else if ((s.Attributes & 0x10) == 0)
            kind = $"system type {s.Type:x}";
        else if (s.IsCode)
            kind = $"{(s.Big ? "CS32" : "CS16")} [{((s.Type & 4) != 0 ? 'C' : '-')}{((s.Type & 2) != 0 ? 'R' : '-')}{((s.Type & 1) != 0 ? 'A' : '-')}]";
        else
            kind = $"{(s.Big ? "DS" : "DS16")}   [{((s.Type & 4) != 0 ? 'E' : '-')}{((s.Type & 2) != 0 ? 'W' : '-')}{((s.Type & 1) != 0 ? 'A' : '-')}]";
        string present = s.Present || s.IsNull ? "" : " not-present";
        return $"{name}={s.Selector:x4} {s.Base:x8} {s.Limit:x8} {flags:x8} DPL={s.Dpl} {kind}{present}";
    }
}

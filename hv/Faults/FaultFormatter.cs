using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>
/// A fault as one line for people, the line the console log, <c>info faults</c> and the triple-fault dump
/// print: <c>[jos-1] #PF at eip f0100abc: read of unmapped 00000000 (user, not-present) cr3 003fe000 movl (%eax),%edx -> guest</c>;
/// on a guest with several processors the one that took it follows the name: <c>[jos-1 cpu2] #PF ...</c>.
/// </summary>
public static class FaultFormatter
{
    /// <summary>The whole line, without a newline.</summary>
    public static string Line(FaultEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return $"[{e.Guest}{OnProcessor(e)}] {Name(e)} at eip {e.Eip:x8}: {Detail(e)} cr3 {e.Cr3:x8} {e.Instruction.Text} -> {Handler(e.HandledBy)}";
    }

    /// <summary>" cpu1" after the guest's name when the guest has several processors; empty on a one-processor guest.</summary>
    public static string OnProcessor(FaultEvent e) => e.Processors > 1 ? $" cpu{e.Cpu}" : "";

    /// <summary>The head of the line: "#PF", "#GP", "triple fault", "cow break".</summary>
    public static string Name(FaultEvent e) => FaultKinds.Mnemonic(e.Kind, e.Vector);

    /// <summary>"guest" or "hypervisor".</summary>
    public static string Handler(FaultHandler handler) => handler == FaultHandler.Guest ? "guest" : "hypervisor";

    /// <summary>What happened, in a few words: the access of a #PF, the decoded error code of a #GP, the frame of a hidden fault.</summary>
    public static string Detail(FaultEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e.Kind)
        {
            case FaultKind.TripleFault:
                string last = e.Vector is int v ? $"{FaultKinds.VectorMnemonic(v)}{ErrorSuffix(e)}" : "a fault";
                return $"{last} while delivering #DF, processor shut down";
            case FaultKind.ZeroFrameBreak:
                return $"write to gfn {e.Gfn:x5} on the zero frame{LinearSuffix(e)}";
            case FaultKind.CopyOnWriteBreak:
                return $"write to shared gfn {e.Gfn:x5}{LinearSuffix(e)}";
            case FaultKind.PageTableWrite:
                return $"write to page-table gfn {e.Gfn:x5}{LinearSuffix(e)}";
            case FaultKind.AccessedDirtyUpdate:
                return $"accessed/dirty bit set in page-table gfn {e.Gfn:x5}{LinearSuffix(e)}";
            case FaultKind.SwapIn:
                return $"gfn {e.Gfn:x5} read back from swap (major){LinearSuffix(e)}";
            case FaultKind.BalloonTouch:
                return $"gfn {e.Gfn:x5} touched while in the balloon: it reads zeros{LinearSuffix(e)}";
        }

        if (e.PageFault is PageFaultErrorCode pf)
            return PageFaultDetail(pf, e.Access ?? (pf.Write ? PageFaultAccess.Write : PageFaultAccess.Read), e.Cr2);
        int vector = e.Vector ?? -1;
        string name = Vectors.Name(vector);
        if (e.ErrorCode is not int code)
            return name;
        return vector is Vectors.GP or Vectors.TS or Vectors.NP or Vectors.SS
            ? $"{name}, {SelectorErrorCode(code)}"
            : $"{name}, error 0x{code:x4}";
    }

    /// <summary>"read of unmapped 00000000 (user, not-present)", "write to protected f0100000 (supervisor, protection)".</summary>
    public static string PageFaultDetail(PageFaultErrorCode code, PageFaultAccess access, uint cr2)
    {
        string what = access switch
        {
            PageFaultAccess.Write => "write to",
            PageFaultAccess.Fetch => "fetch from",
            _ => "read of",
        };
        string state = code.Protection ? "protected" : "unmapped";
        return $"{what} {state} {cr2:x8} ({code.Describe()})";
    }

    /// <summary>
    /// A #GP, #TS, #NP or #SS error code: zero, or the selector or IDT vector it names, with EXT when the
    /// fault arose while delivering an external event (Intel SDM vol. 3, "Error Code").
    /// </summary>
    public static string SelectorErrorCode(int code)
    {
        if (code == 0)
            return "error 0";
        string table = (code & 2) != 0 ? $"idt vector 0x{(code >> 3) & 0x1FFF:x2}"
            : (code & 4) != 0 ? $"ldt selector 0x{code & 0xFFFC:x4}"
            : $"gdt selector 0x{code & 0xFFFC:x4}";
        return $"error 0x{code:x4} ({table}{((code & 1) != 0 ? ", external" : "")})";
    }

    private static string ErrorSuffix(FaultEvent e) => e.ErrorCode is int code ? $"(0x{code:x4})" : "";

    private static string LinearSuffix(FaultEvent e) => e.Linear is uint linear ? $" at {linear:x8}" : "";
}

namespace MiniHv.Hv.Faults;

/// <summary>How fault logs spell instructions.</summary>
public enum DisassemblySyntax
{
    /// <summary>AT&amp;T syntax as GNU as and objdump print it, with size suffixes: <c>movl (%eax),%edx</c>. The default.</summary>
    Gas,

    /// <summary>Intel syntax: <c>mov edx,[eax]</c>.</summary>
    Intel,

    /// <summary>NASM syntax.</summary>
    Nasm,

    /// <summary>MASM syntax.</summary>
    Masm,
}

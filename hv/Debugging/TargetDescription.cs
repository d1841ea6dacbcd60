using System.Text;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// The target description gdb reads with <c>qXfer:features:read:target.xml</c>: an i386 with the core
/// feature gdb's i386 support requires (the general registers, EIP, EFLAGS with its flag names, the six
/// segment registers, and the x87 registers that the core feature must list), in the order of
/// <see cref="I386Registers"/>.
/// </summary>
public static class TargetDescription
{
    public const string Annex = "target.xml";

    public static string Xml { get; } = Build();

    private static string Build()
    {
        var s = new StringBuilder();
        s.Append("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n");
        s.Append("  <architecture>i386</architecture>\n");
        s.Append("  <feature name=\"org.gnu.gdb.i386.core\">\n");
        s.Append("    <flags id=\"i386_eflags\" size=\"4\">\n");
        foreach ((string name, int bit) in new[]
                 {
                     ("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF", 10), ("OF", 11),
                     ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21),
                 })
            s.Append($"      <field name=\"{name}\" start=\"{bit}\" end=\"{bit}\"/>\n");
        s.Append("    </flags>\n");
        int regnum = 0;
        void Reg(string name, int bits, string type, string? group = null)
        {
            string g = group == null ? "" : $" group=\"{group}\"";
            s.Append($"    <reg name=\"{name}\" bitsize=\"{bits}\" type=\"{type}\" regnum=\"{regnum++}\"{g}/>\n");
        }

        foreach (string r in new[] { "eax", "ecx", "edx", "ebx" })
            Reg(r, 32, "int32");
        Reg("esp", 32, "data_ptr");
        Reg("ebp", 32, "data_ptr");
        Reg("esi", 32, "int32");
        Reg("edi", 32, "int32");
        Reg("eip", 32, "code_ptr");
        Reg("eflags", 32, "i386_eflags");
        foreach (string r in new[] { "cs", "ss", "ds", "es", "fs", "gs" })
            Reg(r, 32, "int32");
        for (int i = 0; i < 8; i++)
            Reg($"st{i}", 80, "i387_ext");
        foreach (string r in new[] { "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop" })
            Reg(r, 32, "int", "float");
        s.Append("  </feature>\n</target>\n");
        return s.ToString();
    }
}

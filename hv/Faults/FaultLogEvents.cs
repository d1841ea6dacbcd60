using Serilog;
using Serilog.Events;
using Serilog.Parsing;

namespace MiniHv.Hv.Faults;

/// <summary>
/// A <see cref="FaultEvent"/> as one structured Serilog event. Property names are PascalCase, Serilog's own
/// convention and the one the VM's logger already uses for <c>Guest</c>; values that are names (<c>Kind</c>,
/// <c>Access</c>, <c>HandledBy</c>) are snake_case or lowercase words; addresses are plain numbers.
/// </summary>
/// <remarks>
/// The rendered message is exactly <see cref="FaultFormatter.Line"/>. Properties, in <see cref="Names"/>:
/// Guest, GuestId, Kind, Fault, Vector, Cr2, Cr3, Eip, Cpl, Cpu, OnCpu, ErrorCode, External, Detail, Instruction,
/// InsnBytes, Disassembly, HandledBy, Instructions, Ordinal; on a #PF also Access, PfPresent, PfWrite, PfUser,
/// PfReserved, PfFetch; on a hidden fault also Gfn and, when known, Linear.
/// </remarks>
public static class FaultLogEvents
{
    /// <summary>The message template: its rendering is the console line.</summary>
    public const string MessageTemplateText =
        "[{Guest:l}{OnCpu:l}] {Fault:l} at eip {Eip:x8}: {Detail:l} cr3 {Cr3:x8} {Instruction:l} -> {HandledBy:l}";

    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(MessageTemplateText);

    /// <summary>The property names, one place for the CLI, the docs and the tests.</summary>
    public static class Names
    {
        /// <summary>The guest's name (string).</summary>
        public const string Guest = "Guest";

        /// <summary>The guest's number in the run (integer).</summary>
        public const string GuestId = "GuestId";

        /// <summary><see cref="FaultKinds.Id"/>: "page_fault", "cow_break", ... (string).</summary>
        public const string Kind = "Kind";

        /// <summary>The line's head: "#PF", "triple fault", "cow break" (string).</summary>
        public const string Fault = "Fault";

        /// <summary>Exception vector (integer), null for hidden faults.</summary>
        public const string Vector = "Vector";

        public const string Cr2 = "Cr2";
        public const string Cr3 = "Cr3";
        public const string Eip = "Eip";
        public const string Cpl = "Cpl";

        /// <summary>The processor that took the fault, 0 on a one-processor guest (integer).</summary>
        public const string Cpu = "Cpu";

        /// <summary>" cpu2" on a guest with several processors, else empty: the console line's text after the guest's name (string).</summary>
        public const string OnCpu = "OnCpu";

        /// <summary>The error code pushed (integer), null when none.</summary>
        public const string ErrorCode = "ErrorCode";

        /// <summary>The exception arose while delivering an external interrupt (boolean).</summary>
        public const string External = "External";

        /// <summary>#PF only: "read", "write" or "fetch".</summary>
        public const string Access = "Access";

        /// <summary>#PF only, error code bit 0: the page was present and the access broke its protection (boolean).</summary>
        public const string PfPresent = "PfPresent";

        /// <summary>#PF only, bit 1: a write (boolean).</summary>
        public const string PfWrite = "PfWrite";

        /// <summary>#PF only, bit 2: from user mode (boolean).</summary>
        public const string PfUser = "PfUser";

        /// <summary>#PF only, bit 3: a reserved bit set in a paging entry (boolean).</summary>
        public const string PfReserved = "PfReserved";

        /// <summary>#PF only, bit 4: an instruction fetch, as the error code says (boolean).</summary>
        public const string PfFetch = "PfFetch";

        /// <summary>Hidden faults only: the guest frame number (integer).</summary>
        public const string Gfn = "Gfn";

        /// <summary>Hidden faults only, when known: the linear address accessed (integer).</summary>
        public const string Linear = "Linear";

        /// <summary>What happened in words, as in the line (string).</summary>
        public const string Detail = "Detail";

        /// <summary>The disassembly, or why there is none in parentheses, as in the line (string).</summary>
        public const string Instruction = "Instruction";

        /// <summary>The instruction's bytes as hex pairs, "8b 10" (string, empty when none were readable).</summary>
        public const string InsnBytes = "InsnBytes";

        /// <summary>The disassembly (string), null when the bytes could not be read.</summary>
        public const string Disassembly = "Disassembly";

        /// <summary>"guest" or "hypervisor".</summary>
        public const string HandledBy = "HandledBy";

        /// <summary>Guest instructions retired when the fault was raised (integer).</summary>
        public const string Instructions = "Instructions";

        /// <summary>The n-th fault of this kind in this guest, counting the ones not logged (integer).</summary>
        public const string Ordinal = "Ordinal";
    }

    /// <summary>Hidden faults are Debug, guest exceptions Information, a double fault Warning, a triple fault Error.</summary>
    public static LogEventLevel LevelOf(FaultKind kind) => kind switch
    {
        FaultKind.TripleFault => LogEventLevel.Error,
        FaultKind.DoubleFault => LogEventLevel.Warning,
        _ when FaultKinds.IsHidden(kind) => LogEventLevel.Debug,
        _ => LogEventLevel.Information,
    };

    /// <summary>Write <paramref name="e"/> to <paramref name="logger"/> as one event, unless the logger ignores its level.</summary>
    public static void Write(ILogger logger, FaultEvent e)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(e);
        if (logger.IsEnabled(LevelOf(e.Kind)))
            logger.Write(ToLogEvent(e, DateTimeOffset.Now));
    }

    /// <summary>The Serilog event for <paramref name="e"/>, stamped <paramref name="timestamp"/>.</summary>
    public static LogEvent ToLogEvent(FaultEvent e, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(e);
        var properties = new List<LogEventProperty>(28)
        {
            Property(Names.Guest, e.Guest),
            Property(Names.GuestId, e.GuestId),
            Property(Names.Kind, FaultKinds.Id(e.Kind)),
            Property(Names.Fault, FaultFormatter.Name(e)),
            Property(Names.Vector, e.Vector),
            Property(Names.Cr2, e.Cr2),
            Property(Names.Cr3, e.Cr3),
            Property(Names.Eip, e.Eip),
            Property(Names.Cpl, e.Cpl),
            Property(Names.Cpu, e.Cpu),
            Property(Names.OnCpu, FaultFormatter.OnProcessor(e)),
            Property(Names.ErrorCode, e.ErrorCode),
            Property(Names.External, e.External),
        };
        if (e.PageFault is PageFaultErrorCode pf)
        {
            if (e.Access is PageFaultAccess access)
                properties.Add(Property(Names.Access, access.ToString().ToLowerInvariant()));
            properties.Add(Property(Names.PfPresent, pf.Protection));
            properties.Add(Property(Names.PfWrite, pf.Write));
            properties.Add(Property(Names.PfUser, pf.User));
            properties.Add(Property(Names.PfReserved, pf.Reserved));
            properties.Add(Property(Names.PfFetch, pf.Fetch));
        }

        if (e.Gfn is uint gfn)
            properties.Add(Property(Names.Gfn, gfn));
        if (e.Linear is uint linear)
            properties.Add(Property(Names.Linear, linear));
        properties.Add(Property(Names.Detail, FaultFormatter.Detail(e)));
        properties.Add(Property(Names.Instruction, e.Instruction.Text));
        properties.Add(Property(Names.InsnBytes, e.Instruction.HexBytes));
        properties.Add(Property(Names.Disassembly, e.Instruction.Disassembly));
        properties.Add(Property(Names.HandledBy, FaultFormatter.Handler(e.HandledBy)));
        properties.Add(Property(Names.Instructions, e.Instructions));
        properties.Add(Property(Names.Ordinal, e.Ordinal));
        return new LogEvent(timestamp, LevelOf(e.Kind), null, Template, properties);
    }

    private static LogEventProperty Property(string name, object? value) => new(name, new ScalarValue(value));
}

using System.Globalization;
using System.Text;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Inspection;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// The hypervisor's views of one guest as text, for gdb's <c>monitor</c> (qRcmd) and for <c>minihv run
/// --monitor</c>: its registers, its page tables with what backs each range, its sharing counters and its
/// last faults.
/// </summary>
public sealed class MonitorCommands
{
    /// <summary>How many faults <c>info faults</c> lists without a count.</summary>
    public const int DefaultFaultCount = 10;

    public const string Help = """
        info registers   the CPU state, as the triple-fault dump shows it
        info pg          the page tables as ranges (like the course QEMU's info pg), each with what backs its frames
        info sharing     this guest's frames: private, on the zero frame, shared; the sharing engine's counters
        info faults [N]  the last N faults of this guest (default 10), as --faults prints them
        help             this list

        """;

    private readonly Func<SharingEngine?> _engine;

    /// <param name="engine">The run's sharing engine, or null when sharing is off (asked each time: it may come later).</param>
    public MonitorCommands(Func<SharingEngine?>? engine = null) => _engine = engine ?? (() => null);

    /// <summary>The output of command <paramref name="line"/> on <paramref name="vm"/>, ending with a newline. Only with the guest stopped.</summary>
    public string Execute(Vm vm, string line)
    {
        ArgumentNullException.ThrowIfNull(vm);
        string[] words = (line ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words switch
        {
            [] or ["help"] => Help,
            ["info", "registers"] or ["info", "reg"] or ["info", "r"] => RegisterDump.Format(vm.Cpu),
            ["info", "pg"] => PageTables(vm),
            ["info", "sharing"] => Sharing(vm),
            ["info", "faults"] => Faults(vm, DefaultFaultCount),
            ["info", "faults", string n] when int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int count) => Faults(vm, count),
            ["info", "faults", string n] => $"info faults: '{n}' is not a count\n",
            _ => $"unknown monitor command '{string.Join(' ', words)}': try 'help'\n",
        };
    }

    private static string PageTables(Vm vm)
    {
        MiniHv.Cpu.Cpu cpu = vm.Cpu;
        if (!cpu.PagingEnabled)
            return "paging is off: no page tables\n";
        return $"page tables at cr3 {cpu.Cr3:x8}:\n" + CurrentPageTables.Format(cpu,
            GuestMemoryInspection.WordReader(vm.Memory), GuestMemoryInspection.Backing(vm.Memory));
    }

    private string Sharing(Vm vm)
    {
        var s = new StringBuilder();
        var memory = vm.Memory;
        s.Append($"guest frames            {memory.FrameCount}\n");
        s.Append($"private frames          {memory.PrivateFrames}\n");
        s.Append($"on the zero frame       {memory.ZeroMappedFrames}\n");
        s.Append($"read-only (shared)      {memory.ReadOnlyFrames}\n");
        s.Append($"zero-frame breaks       {memory.ZeroFrameBreaks}\n");
        s.Append($"copy-on-write breaks    {memory.CopyOnWriteBreaks}\n");
        if (_engine() is not SharingEngine engine)
        {
            s.Append("sharing engine          off\n");
            return s.ToString();
        }

        (long onStable, long zeroPages, long breaks) = engine.GuestCounters(memory);
        s.Append($"sharing engine          {engine.Policy.ToString().ToLowerInvariant()}\n");
        s.Append($"frames on stable        {onStable}\n");
        s.Append($"zero pages (merged)     {zeroPages}\n");
        s.Append($"breaks away from them   {breaks}\n");
        return s.ToString();
    }

    private static string Faults(Vm vm, int count)
    {
        IReadOnlyList<FaultEvent> recent = vm.Faults.Recent.Snapshot();
        var s = new StringBuilder();
        s.Append($"{vm.Faults.Counters.GuestTotal} guest faults, {vm.Faults.Counters.HiddenTotal} hidden; the last {Math.Min(count, recent.Count)} kept:\n");
        foreach (FaultEvent e in recent.Skip(Math.Max(0, recent.Count - count)))
            s.Append(FaultFormatter.Line(e)).Append('\n');
        return s.ToString();
    }
}

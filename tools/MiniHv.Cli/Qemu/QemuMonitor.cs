using MiniHv.Hv.Debugging;
using MiniHv.Hv.Inspection;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// The monitor behind QEMU's Ctrl-A c (or <c>-monitor stdio</c>): the course QEMU's commands students use
/// (<c>info registers</c>, <c>info pg</c>, <c>info mem</c>, <c>info tlb</c>, <c>x</c>, <c>xp</c>, <c>quit</c>) and
/// MiniHv's own (<c>info sharing</c>, <c>info faults</c>). Each command runs on the guest's own thread through its
/// debugger while the guest stands still: a running guest is paused for it and goes on after, as QEMU's
/// monitor holds the CPU for a command.
/// </summary>
internal sealed class QemuMonitor
{
    public const string Banner = "MiniHv's QEMU-style monitor - type 'help' for more information\n";

    public const string Prompt = "(qemu) ";

    private const string Help = """
        info registers   the CPU state
        info pg          the page tables as ranges, with what backs each range
        info mem         the mapped linear ranges and their rights (user, read, write)
        info tlb         every present mapping: linear, physical, flags
        info sharing     this guest's frames: private, on the zero frame, shared
        info faults [N]  the last N faults of this guest (default 10)
        info status      whether the guest runs or is paused
        stop             pause the guest
        cont | c         let a paused guest run (after -S, stop or a breakpoint)
        x /NFU ADDR      N units (b h w g) at linear ADDR as F (x d u)
        xp /NFU ADDR     the same at physical ADDR
        quit | q         end the run (as Ctrl-A x)

        """;

    private static readonly TimeSpan PauseLimit = TimeSpan.FromSeconds(10);

    private readonly Vm _vm;
    private readonly GuestDebugger _debugger;
    private readonly bool _gdbOwnsDebugger;
    private readonly MonitorCommands _commands;
    private readonly QemuMemoryDump _dump = new();

    /// <param name="debugger">The guest's debugger: gdb's when the run has -gdb, else one the monitor attached.</param>
    /// <param name="gdbOwnsDebugger">gdb decides when the guest runs: the monitor does not pause it behind gdb's back.</param>
    public QemuMonitor(Vm vm, GuestDebugger debugger, bool gdbOwnsDebugger, SharingEngine? engine)
    {
        _vm = vm;
        _debugger = debugger;
        _gdbOwnsDebugger = gdbOwnsDebugger;
        _commands = new MonitorCommands(() => engine);
    }

    /// <summary>True when <paramref name="line"/> asks to end the run.</summary>
    public static bool IsQuit(string line) => line.Trim() is "q" or "quit";

    /// <summary>What command <paramref name="line"/> prints (empty for an empty line).</summary>
    public string Execute(string line)
    {
        string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        switch (words)
        {
            case []:
                return "";
            case ["help"] or ["?"]:
                return Help;
            case ["info", "mem"]:
                return OnGuest(vm => vm.Cpu.PagingEnabled ? QemuPageInfo.Mem(vm.Cpu.Cr3, Pse(vm), Reader(vm)) : "PG disabled\n");
            case ["info", "tlb"]:
                return OnGuest(vm => vm.Cpu.PagingEnabled ? QemuPageInfo.Tlb(vm.Cpu.Cr3, Pse(vm), Reader(vm)) : "PG disabled\n");
            case [['x', ..] or ['x', 'p', ..], ..] when words[0] == "x" || words[0] == "xp" || words[0].StartsWith("x/", StringComparison.Ordinal)
                || words[0].StartsWith("xp/", StringComparison.Ordinal):
                return Examine(words);
            case ["info", "registers" or "reg" or "r" or "pg" or "sharing" or "faults", ..]:
                return OnGuest(vm => _commands.Execute(vm, line));
            case ["info", "status"]:
                return _debugger.State switch
                {
                    DebugState.Running => "VM status: running\n",
                    DebugState.Stopped => "VM status: paused\n",
                    _ => "VM status: shutdown\n",
                };
            case ["stop"]:
                return Stop();
            case ["cont" or "c"]:
                return Continue();
            default:
                return $"unknown command: '{string.Join(' ', words)}' (try 'help')\n";
        }
    }

    /// <summary>stop: the guest stands still until cont; gdb's guest is gdb's to stop.</summary>
    private string Stop()
    {
        if (_gdbOwnsDebugger)
            return "the guest is under gdb: stop it in gdb (Ctrl-C)\n";
        if (_debugger.State != DebugState.Running)
            return "";
        _debugger.Interrupt();
        return _debugger.WaitForStop(PauseLimit) == DebugState.Running ? "the guest did not stop\n" : "";
    }

    /// <summary>cont: a stopped guest runs on.</summary>
    private string Continue()
    {
        if (_gdbOwnsDebugger)
            return "the guest is under gdb: continue it in gdb (c)\n";
        if (_debugger.State == DebugState.Stopped)
            _debugger.Resume(step: false);
        return "";
    }

    private string Examine(string[] words)
    {
        bool physical = words[0].StartsWith("xp", StringComparison.Ordinal);
        return OnGuest(vm =>
        {
            if (!_dump.TryParse(words, name => Register(vm, name), out uint address, out string error))
                return error;
            byte[] bytes = physical ? ReadPhysical(vm, address, _dump.Length) : DebugMemory.Read(vm, address, _dump.Length);
            return _dump.Format(address, bytes, physical);
        });
    }

    /// <summary>Runs <paramref name="command"/> on the guest's thread with the guest standing still.</summary>
    private string OnGuest(Func<Vm, string> command)
    {
        if (_debugger.State == DebugState.Exited)
            return command(_vm); // the guest's thread is done with it: its state holds still
        bool paused = false;
        if (_debugger.State == DebugState.Running)
        {
            if (_gdbOwnsDebugger)
                return "the guest is running under gdb: stop it in gdb (Ctrl-C) to inspect it here\n";
            _debugger.Interrupt();
            paused = true;
            if (_debugger.WaitForStop(PauseLimit) != DebugState.Stopped)
                return _debugger.State == DebugState.Exited ? command(_vm) : "the guest did not stop for the monitor\n";
        }

        string? text = _debugger.Inspect(command, PauseLimit);
        if (paused)
            _debugger.Resume(step: false);
        return text ?? "the guest did not answer the monitor\n";
    }

    private static bool Pse(Vm vm) => (vm.Cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PSE) != 0;

    private static GuestPhysicalWordReader Reader(Vm vm) => GuestMemoryInspection.WordReader(vm.Memory);

    /// <summary>Up to <paramref name="length"/> bytes of RAM from <paramref name="address"/>, page by page; fewer where RAM ends.</summary>
    private static byte[] ReadPhysical(Vm vm, uint address, int length)
    {
        var result = new byte[length];
        int done = 0;
        while (done < length)
        {
            uint at = address + (uint)done;
            if (!vm.Memory.IsRam(at))
                break;
            int n = Math.Min(length - done, 0x1000 - (int)(at & 0xFFF));
            vm.Memory.Read(at, result.AsSpan(done, n));
            done += n;
        }

        return done == length ? result : result[..done];
    }

    private static uint? Register(Vm vm, string name) => name switch
    {
        "eax" => vm.Cpu.Eax,
        "ebx" => vm.Cpu.Ebx,
        "ecx" => vm.Cpu.Ecx,
        "edx" => vm.Cpu.Edx,
        "esi" => vm.Cpu.Esi,
        "edi" => vm.Cpu.Edi,
        "ebp" => vm.Cpu.Ebp,
        "esp" => vm.Cpu.Esp,
        "eip" or "pc" => vm.Cpu.Eip,
        _ => null,
    };
}

using System.Diagnostics;
using System.Globalization;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Sharing;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MiniHv.Cli.Running;

/// <summary>
/// Shows a run's progress from a thread of its own while the guests run: a live Spectre.Console table on a
/// terminal, or a plain line every few seconds where stderr is a log (CI, pipes).
/// </summary>
internal sealed class StatusReporter : IDisposable
{
    public static readonly TimeSpan TableInterval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<Vm> _vms;
    private readonly IReadOnlyList<SerialSink> _sinks;
    private readonly MachineMemory _machine;
    private readonly SharingEngine? _engine;
    private readonly SwapSpace? _swap;
    private readonly MemoryReclaimer? _reclaimer;
    private readonly TextWriter _error;
    private readonly StatusMode _mode;
    private readonly ManualResetEventSlim _done = new();
    private readonly long[] _before;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Thread? _thread;
    private bool _wide;

    /// <param name="mode">Table or Lines (Auto and Off are resolved by the caller).</param>
    public StatusReporter(StatusMode mode, IReadOnlyList<Vm> vms, IReadOnlyList<SerialSink> sinks, MachineMemory machine,
        SharingEngine? engine, TextWriter error, SwapSpace? swap = null, MemoryReclaimer? reclaimer = null)
    {
        _swap = swap;
        _reclaimer = reclaimer;
        _mode = mode;
        _vms = vms;
        _sinks = sinks;
        _machine = machine;
        _engine = engine;
        _error = error;
        _before = new long[vms.Count];
    }

    /// <summary>What --status auto means for this run.</summary>
    public static StatusMode Resolve(StatusMode asked, int guests, bool errorIsTerminal) => asked switch
    {
        StatusMode.Auto when guests > 1 && errorIsTerminal => StatusMode.Table,
        StatusMode.Auto when !errorIsTerminal => StatusMode.Lines,
        StatusMode.Auto => StatusMode.Off,
        _ => asked,
    };

    public void Start()
    {
        _thread = new Thread(_mode == StatusMode.Table ? RunTable : RunLines) { IsBackground = true, Name = "status" };
        _thread.Start();
    }

    /// <summary>Stops the display after one last refresh.</summary>
    public void Dispose()
    {
        _done.Set();
        _thread?.Join();
        _done.Dispose();
    }

    private void RunLines()
    {
        // A line only for runs long enough to need one.
        while (!_done.Wait(LineInterval))
        {
            var (guests, machine) = Sample(LineInterval);
            long instructions = guests.Sum(g => g.Instructions);
            int running = guests.Count(g => g.State == "running");
            string line = string.Create(CultureInfo.InvariantCulture,
                $"minihv: {_clock.Elapsed.TotalSeconds:0} s: {running}/{guests.Count} guests running, {instructions:N0} instructions, {guests.Sum(g => g.Mips):0} MIPS; machine frames {machine.MachineFrames} for {machine.GuestFramesWritten} guest frames written");
            if (_engine != null)
                line += string.Create(CultureInfo.InvariantCulture, $", saved {machine.Saved}, full scans {machine.FullScans}");
            if (_swap != null)
                line += ", " + SwapLine();
            _error.WriteLine(line);
            _error.Flush();
        }
    }

    private void RunTable()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(_error) });
        _wide = console.Profile.Width >= 120;
        console.Live(Render(Sample(TableInterval))).AutoClear(false).Start(ctx =>
        {
            while (!_done.Wait(TableInterval))
                ctx.UpdateTarget(Render(Sample(TableInterval)));
            ctx.UpdateTarget(Render(Sample(TableInterval)));
        });
    }

    private (List<GuestStatus> Guests, MachineStatus Machine) Sample(TimeSpan interval)
    {
        var guests = new List<GuestStatus>();
        for (int i = 0; i < _vms.Count; i++)
        {
            guests.Add(GuestStatus.Of(_vms[i], _sinks[i], _before[i], interval));
            _before[i] = guests[^1].Instructions;
        }

        return (guests, MachineStatus.Of(_machine, _vms, _engine));
    }

    /// <summary>12.3M, 4.5G: counts that fit a narrow terminal.</summary>
    private static string Compact(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "G",
        >= 1_000_000 => (n / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + "k",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };

    private IRenderable Render((List<GuestStatus> Guests, MachineStatus Machine) sample)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (string column in new[] { "guest", "state", "insns", "MIPS", "faults", "hidden", "private", "zero", "shared" })
            table.AddColumn(new TableColumn(column).NoWrap());
        bool balloons = _reclaimer?.Ballooning == true;
        if (balloons)
            table.AddColumn(new TableColumn("balloon").NoWrap());
        if (_wide)
            table.AddColumn(new TableColumn("last line").NoWrap());
        for (int i = 0; i < sample.Guests.Count; i++)
        {
            GuestStatus g = sample.Guests[i];
            var cells = new List<string>
            {
                Markup.Escape(g.Name), g.State, Compact(g.Instructions), g.Mips.ToString("0", CultureInfo.InvariantCulture),
                Compact(g.GuestFaults), Compact(g.HiddenFaults), Compact(g.PrivateFrames), Compact(g.ZeroFrames), Compact(g.SharedFrames),
            };
            if (balloons && _reclaimer!.BalloonOf(_vms[i]) is BalloonDevice balloon)
                cells.Add($"{Compact(balloon.Size)}/{Compact(balloon.Target)}"); // size / target, in pages
            if (_wide)
                cells.Add(Markup.Escape(g.LastLine.Length > 40 ? g.LastLine[..40] + "..." : g.LastLine));
            table.AddRow(cells.ToArray());
        }

        MachineStatus m = sample.Machine;
        string total = string.Create(CultureInfo.InvariantCulture,
            $"machine frames in use {m.MachineFrames} ({SizeParser.Format(m.MachineFrames << 12)}) for {m.GuestFramesWritten} guest frames written; saved {m.Saved}");
        string sharing = _engine == null ? "sharing off" : string.Create(CultureInfo.InvariantCulture,
            $"sharing {_engine.Policy.ToString().ToLowerInvariant()}: pages_shared {m.PagesShared}, pages_sharing {m.PagesSharing}, zero_pages {m.ZeroPages}, "
            + $"full_scans {m.FullScans}, merges {m.Merges}, cow_breaks {m.CowBreaks}");
        string swap = _swap == null ? "" : "\n" + SwapLine();
        table.Caption(new TableTitle(Markup.Escape($"{total}\n{sharing}{swap}")));
        return table;
    }

    /// <summary>The swap counters now (runs with --machine-memory).</summary>
    private string SwapLine() => string.Create(CultureInfo.InvariantCulture,
        $"swap: in swap {_swap!.SlotsInUse} of machine {_machine.CapFrames} frames, swapped_out {_swap.SwappedOut}, swapped_in {_swap.SwappedIn}, "
        + $"swap_writes {_swap.SwapWrites}, swap_reads {_swap.SwapReads}, major hidden faults {_vms.Sum(v => v.Faults.Counters.MajorHiddenTotal)}")
        + BalloonLine();

    /// <summary>The balloons together now, when the run has them.</summary>
    private string BalloonLine() => _reclaimer?.Ballooning != true ? "" : string.Create(CultureInfo.InvariantCulture,
        $"; balloons: balloon_size {_vms.Sum(v => _reclaimer.BalloonOf(v)!.Size)} of balloon_target {_vms.Sum(v => _reclaimer.BalloonOf(v)!.Target)}, reclaimed {_reclaimer.BalloonedFrames} frames");
}

using System.Diagnostics;
using System.Text;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Robustness;

/// <summary>What became of one bad guest.</summary>
internal sealed record BadGuestOutcome(BadGuest Guest, VmExit? Exit, long Instructions, TimeSpan HostTime, string? Failure);

/// <summary>The result of a <see cref="RoundRobinRun"/>: every bad guest's outcome, the healthy guest's runs, the pool at the end.</summary>
internal sealed class RobustnessReport
{
    public List<BadGuestOutcome> Outcomes { get; } = [];

    /// <summary>Everything that went wrong on the host's side: exceptions that escaped, hangs, wrong transcripts, leaks.</summary>
    public List<string> Failures { get; } = [];

    public int HealthyRuns { get; set; }

    public long PeakFramesInUse { get; set; }

    public long FramesInUseAfterDispose { get; set; }

    public bool ZeroFrameIntact { get; set; }

    public TimeSpan Elapsed { get; set; }

    public Dictionary<VmExitKind, int> ExitKinds()
        => Outcomes.Where(o => o.Exit != null).GroupBy(o => o.Exit!.Kind).ToDictionary(k => k.Key, k => k.Count());

    /// <summary>Exit kinds per guest kind, for the test log.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"{Outcomes.Count} bad guests beside {HealthyRuns} healthy run(s) in {Elapsed.TotalSeconds:0.0} s; " +
            $"pool peak {PeakFramesInUse} frames, {FramesInUseAfterDispose} in use after dispose, zero frame intact: {ZeroFrameIntact}");
        VmExitKind[] kinds = Enum.GetValues<VmExitKind>();
        text.Append($"{"kind",-14}");
        foreach (VmExitKind k in kinds)
            text.Append($"{new VmExit(k, null, "").Reason,18}");
        text.AppendLine($"{"instructions",14}{"host s",9}");
        foreach (var group in Outcomes.GroupBy(o => o.Guest.Kind).OrderBy(g => g.Key))
        {
            text.Append($"{group.Key,-14}");
            foreach (VmExitKind k in kinds)
                text.Append($"{group.Count(o => o.Exit?.Kind == k),18}");
            text.AppendLine($"{group.Sum(o => o.Instructions),14:N0}{group.Sum(o => o.HostTime.TotalSeconds),9:0.0}");
        }

        text.Append($"{"all",-14}");
        foreach (VmExitKind k in kinds)
            text.Append($"{Outcomes.Count(o => o.Exit?.Kind == k),18}");
        text.AppendLine($"{Outcomes.Sum(o => o.Instructions),14:N0}{Outcomes.Sum(o => o.HostTime.TotalSeconds),9:0.0}");
        BadGuestOutcome[] slowest = Outcomes.OrderByDescending(o => o.HostTime).Take(3).ToArray();
        text.AppendLine("slowest: " + string.Join(", ", slowest.Select(o => $"seed {o.Guest.Seed} {o.Guest.Kind} {o.HostTime.TotalMilliseconds:0} ms {o.Exit?.Reason}")));
        return text.ToString();
    }
}

/// <summary>
/// Runs bad guests a few at a time beside a healthy JOS-style guest, all on one <see cref="MachineMemory"/> pool.
/// Each of <see cref="Lanes"/> host threads steps its live guests in turn with <see cref="Vm.Run"/> for one quantum,
/// so bad guests really run beside the healthy one (on lane 0) and beside each other, touching the same pool from
/// two threads. A bad guest that stops is disposed and the next seed takes its place; the healthy guest runs again
/// and again until the bad guests are done, and each of its runs must print QEMU's transcript. A watchdog stops any
/// guest whose call to <see cref="Vm.Run"/> does not come back. Nothing is hidden: every exception, hang or wrong
/// transcript becomes a line in <see cref="RobustnessReport.Failures"/>.
/// </summary>
/// <remarks>
/// The quantum is small and the time limit short because the instruction budget does not bound all the work a
/// guest can make the host do: a REP string instruction runs up to <c>Cpu.RepIterationsPerRun</c> iterations per
/// instruction of budget, and one over a hole (never cached in the TLB) costs about 100 ns an iteration in a Debug
/// build, so a budget of 200,000 instructions allows seconds of work. The time limit is what bounds it.
/// </remarks>
internal sealed class RoundRobinRun
{
    public int FirstSeed { get; init; }

    public int GuestCount { get; init; } = 1000;

    /// <summary>Host threads, each with its own bad guests in turn (the first also runs the healthy guest).</summary>
    public int Lanes { get; init; } = 2;

    /// <summary>Bad guests alive at once on each lane.</summary>
    public int GuestsPerLane { get; init; } = 2;

    public long Quantum { get; init; } = 1_000;

    public long MaxInstructions { get; init; } = 200_000;

    /// <summary>Each bad guest's wall-time limit (its <see cref="VmConfig.Timeout"/>).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(0.2);

    /// <summary>A single <see cref="Vm.Run"/> call longer than this is a hang.</summary>
    public TimeSpan HangLimit { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A call in which no instruction retires for this long is the known fault-loop hang: the CPU retires at
    /// least one instruction per REP slice, block or fault otherwise, many times a millisecond.
    /// </summary>
    public TimeSpan FrozenLimit { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Processors of each bad guest.</summary>
    public int Processors { get; init; } = 1;

    /// <summary>Run the healthy guest beside the bad ones (on lane 0).</summary>
    public bool WithHealthyGuest { get; init; } = true;

    /// <summary>The pool's cap in frames; null for room for every guest at full size, so that none runs out.</summary>
    public long? PoolFrames { get; init; }

    public string HealthyAppend { get; init; } = "prog=forktree";

    public string HealthyGolden { get; init; } = "forktree";

    /// <summary>Where progress goes while the run lasts (every hundredth guest, every slow one), or null.</summary>
    public TextWriter? Progress { get; init; }

    private const long HealthyRam = 64L << 20;
    private const long LargestBadRam = 64L << 20;

    /// <summary>The failure of a guest whose Vm.Run retired nothing for <see cref="FrozenLimit"/>: its clock stood still.</summary>
    internal const string Frozen = "no instruction retired (the guest's clock stood still)";

    private readonly object _results = new();
    private RobustnessReport _report = new();
    private Stopwatch _clock = new();
    private int _nextGuest;
    private int _unfinishedGuests;

    public RobustnessReport Execute()
    {
        _report = new RobustnessReport();
        _clock = Stopwatch.StartNew();
        _nextGuest = 0;
        _unfinishedGuests = GuestCount;
        string golden = TestImages.Golden("jos", HealthyGolden);
        byte[] josImage = File.ReadAllBytes(TestImages.Jos);

        // By default room for the healthy guest and every bad one at full size: nobody runs out because of another.
        var pool = new MachineMemory(PoolFrames ?? (((Lanes * GuestsPerLane * LargestBadRam) + HealthyRam) >> MachineMemory.FrameShift));
        var lanes = Enumerable.Range(0, Lanes).Select(_ => new Lane()).ToArray();
        using (new Timer(_ => Array.ForEach(lanes, Watch), null, 100, 100))
        {
            var threads = lanes.Select((lane, n) => new Thread(() => RunLane(lane, pool, n == 0 && WithHealthyGuest ? josImage : null, golden))
            {
                Name = $"robustness lane {n}",
            }).ToArray();
            Array.ForEach(threads, t => t.Start());
            Array.ForEach(threads, t => t.Join());
        }

        _report.PeakFramesInUse = pool.PeakFramesInUse;
        _report.FramesInUseAfterDispose = pool.FramesInUse;
        _report.ZeroFrameIntact = pool.IsZeroFrameIntact();
        pool.Dispose();
        _report.Elapsed = _clock.Elapsed;
        return _report;
    }

    /// <summary>One host thread: its bad guests in turn, and the healthy guest when it has the image.</summary>
    private void RunLane(Lane lane, MachineMemory pool, byte[]? josImage, string golden)
    {
        try
        {
            var live = new List<(BadGuest Guest, Vm Vm)>();
            Healthy? healthy = josImage == null ? null : StartHealthy(pool, josImage);
            while (true)
            {
                while (live.Count < GuestsPerLane)
                {
                    int index = Interlocked.Increment(ref _nextGuest) - 1;
                    if (index >= GuestCount)
                        break;
                    var started = StartBad(pool, FirstSeed + index);
                    if (started != null)
                        live.Add(started.Value);
                }

                if (live.Count == 0 && healthy == null)
                    return;
                for (int i = live.Count - 1; i >= 0; i--)
                {
                    (BadGuest guest, Vm vm) = live[i];
                    string? failure = Step(lane, vm, out bool exited);
                    if (!exited && failure == null)
                        continue;
                    Finished(guest, vm, failure);
                    vm.Dispose();
                    live.RemoveAt(i);
                }

                if (healthy != null && StepHealthy(lane, healthy, golden))
                    healthy = Volatile.Read(ref _unfinishedGuests) > 0 ? StartHealthy(pool, josImage!) : null;
            }
        }
        catch (Exception e)
        {
            lock (_results)
                _report.Failures.Add($"the harness itself failed: {e}");
        }
    }

    private void Finished(BadGuest guest, Vm vm, string? failure)
    {
        lock (_results)
        {
            _report.Outcomes.Add(new BadGuestOutcome(guest, vm.Exit, vm.Instructions, vm.HostTime, failure));
            if (failure != null)
                _report.Failures.Add($"{guest}: {failure}");
            else if (vm.Exit!.Kind == VmExitKind.EmulatorError)
                _report.Failures.Add($"{guest}: {vm.Exit.Message}\n{vm.FinalRegisterDump}");
            if (vm.HostTime > TimeSpan.FromSeconds(1) || _report.Outcomes.Count % 100 == 0)
            {
                Progress?.WriteLine($"{_report.Outcomes.Count} done at {_clock.Elapsed.TotalSeconds:0.0} s; seed {guest.Seed} {guest.Kind} " +
                    $"took {vm.HostTime.TotalMilliseconds:0} ms for {vm.Instructions} instructions: {vm.Exit?.Message ?? failure}");
            }
        }

        Interlocked.Decrement(ref _unfinishedGuests);
    }

    private (BadGuest, Vm)? StartBad(MachineMemory pool, int seed)
    {
        BadGuest? guest = null;
        try
        {
            guest = BadGuestGenerator.Create(seed);
            var config = new VmConfig
            {
                Name = $"bad{seed}",
                Image = guest.Image,
                CommandLine = $"bad{seed}.elf",
                MemoryBytes = guest.MemoryBytes,
                MaxInstructions = MaxInstructions,
                Timeout = Timeout,
                Processors = Processors,
            };
            var vm = new Vm(config, pool, _ => { });
            vm.CloseInput();
            return (guest, vm);
        }
        catch (Exception e)
        {
            lock (_results)
                _report.Failures.Add($"{guest?.ToString() ?? $"seed {seed}"}: the guest did not start: {e}");
            Interlocked.Decrement(ref _unfinishedGuests);
            return null;
        }
    }

    private sealed class Healthy(Vm vm, MemoryStream serial)
    {
        public Vm Vm { get; } = vm;

        public MemoryStream Serial { get; } = serial;
    }

    private Healthy? StartHealthy(MachineMemory pool, byte[] image)
    {
        var serial = new MemoryStream();
        var config = new VmConfig
        {
            Name = "jos",
            Image = image,
            CommandLine = MultibootLoader.QemuCommandLine(TestImages.Jos, HealthyAppend),
            MemoryBytes = HealthyRam,
            MaxInstructions = GuestRun.DefaultMaxInstructions,
        };
        try
        {
            var vm = new Vm(config, pool, serial.WriteByte);
            vm.CloseInput();
            return new Healthy(vm, serial);
        }
        catch (Exception e)
        {
            lock (_results)
                _report.Failures.Add($"the healthy guest did not start: {e}");
            return null;
        }
    }

    /// <summary>One quantum of the healthy guest; true when it has stopped (its transcript then checked).</summary>
    private bool StepHealthy(Lane lane, Healthy healthy, string golden)
    {
        string? failure = Step(lane, healthy.Vm, out bool exited);
        if (!exited && failure == null)
            return false;
        lock (_results)
        {
            int run = ++_report.HealthyRuns;
            string transcript = Encoding.UTF8.GetString(healthy.Serial.ToArray());
            VmExit? exit = healthy.Vm.Exit;
            if (failure != null)
                _report.Failures.Add($"healthy run {run}: {failure}");
            if (transcript != golden)
                _report.Failures.Add($"healthy run {run}: the transcript differs from QEMU's ({exit?.Message}):\n{transcript}");
            if (exit?.Kind != VmExitKind.DebugExit || exit.DebugExitStatus != 1)
                _report.Failures.Add($"healthy run {run} ended with {exit?.Message}\n{healthy.Vm.FinalRegisterDump}");
        }

        healthy.Vm.Dispose();
        return true;
    }

    /// <summary>What a lane is running, for the watchdog.</summary>
    private sealed class Lane
    {
        public Vm? Running;
        public long Since;
        public long LastInstructions;
        public long LastRetiredAt;
        public string? Hang;
        public long StopRequestedAt;
        public bool ReportedUnstoppable;
    }

    /// <summary>One quantum; returns what went wrong on the host's side, or null.</summary>
    private string? Step(Lane lane, Vm vm, out bool exited)
    {
        exited = false;
        lock (lane)
        {
            lane.Running = vm;
            lane.Since = lane.LastRetiredAt = Stopwatch.GetTimestamp();
            lane.LastInstructions = vm.Instructions;
            lane.Hang = null;
            lane.ReportedUnstoppable = false;
        }

        try
        {
            VmRunState state = vm.Run(Quantum);
            exited = state == VmRunState.Exited;
            if (state == VmRunState.WaitingForInput)
                return "waiting for input although its input is closed";
        }
        catch (Exception e)
        {
            exited = true;
            return $"an exception escaped Vm.Run: {e}";
        }
        finally
        {
            lock (lane)
                lane.Running = null;
        }

        lock (lane)
        {
            if (lane.Hang != null)
                return $"{lane.Hang}; stopped from outside at eip {vm.Cpu.Eip:x8} after {vm.Instructions} instructions, last fault {vm.Cpu.LastFault}";
        }

        return null;
    }

    private void Watch(Lane lane)
    {
        lock (lane)
        {
            Vm? vm = lane.Running;
            if (vm == null)
                return;
            long instructions = vm.Instructions; // a 64-bit read: whole even while the lane's thread writes it
            if (instructions != lane.LastInstructions)
            {
                lane.LastInstructions = instructions;
                lane.LastRetiredAt = Stopwatch.GetTimestamp();
            }

            if (lane.Hang == null)
            {
                if (Stopwatch.GetElapsedTime(lane.LastRetiredAt) >= FrozenLimit)
                    lane.Hang = Frozen;
                else if (Stopwatch.GetElapsedTime(lane.Since) >= HangLimit)
                    lane.Hang = $"Vm.Run({Quantum}) did not return within {HangLimit.TotalSeconds} s";
                else
                    return;
                vm.RequestStop();
                lane.StopRequestedAt = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lane.StopRequestedAt) > HangLimit && !lane.ReportedUnstoppable)
            {
                // Even a stop request does not end it: say which guest, since this run will never finish.
                lane.ReportedUnstoppable = true;
                Progress?.WriteLine($"{vm.Name} does not stop: eip {vm.Cpu.Eip:x8}, {vm.Instructions} instructions");
            }
        }
    }
}

using System.Diagnostics;
using MiniHv.Cli.Debugging;
using MiniHv.Cli.Report;
using MiniHv.Cli.Stats;
using MiniHv.Hv.Debugging;
using MiniHv.Hv.Inspection;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Overcommit;
using MiniHv.Hv.Scheduling;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>
/// One run of one or more guests on a shared machine memory: their COM1 output on stdout (and in
/// --serial-dir), stdin to the first guest, a scheduler, then how each ended and the statistics.
/// </summary>
internal static class GuestSession
{
    public static int Run(RunPlan plan, CliStreams streams, Serilog.ILogger log, CancellationToken cancel)
    {
        if (!PrepareOutputs(plan, streams, out FileStream? statsFile, out int failure))
            return failure;

        using Serilog.Core.Logger? faultLogger = CreateFaultLogger(plan, streams, out int logFailure);
        if (logFailure != ExitStatus.Ok)
        {
            statsFile?.Dispose();
            return logFailure;
        }

        long guestFrames = Math.Max(1, plan.Guests.Sum(g => g.MemoryBytes >> MachineMemory.FrameShift));
        long capFrames = plan.MachineMemoryBytes is long machineBytes ? machineBytes >> MachineMemory.FrameShift : guestFrames;
        using var machine = new MachineMemory(capFrames);
        using SwapSpace? swap = plan.MachineMemoryBytes == null ? null : OpenSwap(plan, guestFrames, streams, out failure);
        if (plan.MachineMemoryBytes != null && swap == null)
        {
            statsFile?.Dispose();
            return failure;
        }

        // A live table and the guests' output cannot share a terminal: the output waits until the end.
        StatusMode status = StatusReporter.Resolve(plan.Status, plan.Guests.Count, streams.ErrorIsTerminal);
        var held = status == StatusMode.Table && streams.OutputIsTerminal ? new MemoryStream() : null;
        var console = new SharedConsole(held ?? streams.SerialOut);
        var sinks = new List<SerialSink>();
        var vms = new List<Vm>();
        try
        {
            bool prefixed = plan.Guests.Count > 1;
            foreach (VmConfig planned in plan.Guests)
            {
                VmConfig config = planned with { Id = vms.Count + 1, FaultPolicy = plan.Faults?.Policy };
                string? logPath = plan.SerialDir == null ? null : Path.Combine(plan.SerialDir, config.Name + ".log");
                var sink = new SerialSink(console, prefixed ? config.Name : null, logPath);
                sinks.Add(sink);
                try
                {
                    vms.Add(new Vm(config, machine, sink.Write, log, faultLogger));
                }
                catch (InvalidImageException e)
                {
                    return streams.Fail(ExitStatus.BadImage, $"{config.Name}: {e.Message}");
                }
                catch (MachineMemoryExhaustedException e)
                {
                    return streams.Fail(ExitStatus.OutOfMemory, $"{config.Name}: {e.Message}");
                }
            }

            foreach (Vm vm in vms.Skip(1))
                vm.CloseInput();

            SharingEngine? engine = SchedulerFactory.CreateEngine(plan, vms, machine);
            MemoryReclaimer? reclaimer = swap == null ? null : SchedulerFactory.CreateReclaimer(plan, vms, machine, swap);
            var peak = new PeakAttribution(engine, vms, plan.Deterministic ? TimeSpan.Zero : TimeSpan.FromMilliseconds(250), plan.Kernels);
            using DebugSession? debug = plan.Gdb == null ? null : DebugSession.Start(plan.Gdb, vms, engine, streams, log, out failure);
            if (plan.Gdb != null && debug == null)
                return failure;
            if (plan.Starting != null)
                plan.Starting(vms[0], engine, console);
            else
                StdinPump.Start(vms[0], streams.SerialIn);
            IVmScheduler scheduler = SchedulerFactory.Create(plan, engine);
            var wall = Stopwatch.StartNew();
            using (StatusReporter? reporter = status is StatusMode.Table or StatusMode.Lines
                ? new StatusReporter(status, vms, sinks, machine, engine, streams.Error, swap, reclaimer) : null)
            {
                reporter?.Start();
                // Sharing has had its turn (the deterministic scheduler's rounds, or the scanner's merges before this): swapping is the last resort.
                scheduler.Run(vms, cancel, safepoint: vm =>
                {
                    reclaimer?.BetweenQuanta(vm);
                    console.Flush();
                });
            }

            wall.Stop();
            foreach (SerialSink sink in sinks)
                sink.Finish();
            console.Flush();
            if (held != null)
            {
                held.Position = 0;
                held.CopyTo(streams.SerialOut);
                streams.SerialOut.Flush();
            }
            ReportEnds(vms, streams);
            if (plan.DumpPageTables)
                DumpPageTables(vms, streams.Error);
            if (plan.Monitor != null)
                RunMonitor(plan.Monitor, vms, engine, streams.Error);

            // Measured before the guests are torn down.
            FrameCensus census = FrameCensus.Take(vms.Select(v => v.Memory), machine, engine?.Stats.ZeroPages ?? 0);
            IReadOnlyDictionary<FrameContent, long>? byContent = peak.Result;
            if (statsFile != null || plan.Summary)
            {
                var run = new RunInfo(plan.Deterministic ? "deterministic" : "parallel", plan.Deterministic ? 1 : plan.Threads,
                    plan.Quantum ?? (plan.Deterministic ? DeterministicScheduler.DefaultQuantum : ParallelScheduler.DefaultQuantum),
                    plan.Guests[0].Paging.ToString().ToLowerInvariant(), wall.Elapsed.TotalSeconds);
                TimeSpan guestTime = scheduler is ParallelScheduler parallel ? parallel.GuestRunTime + parallel.CompanionTime : wall.Elapsed;
                StatsDocument document = StatsWriter.Build(vms, run, engine, plan.ScanRate, census, byContent,
                    (plan.Deterministic ? 0 : plan.ScanThreads, plan.ScanAuto, guestTime), reclaimer);
                if (statsFile != null)
                    StatsWriter.Write(statsFile, document);
                if (plan.Summary)
                {
                    streams.Output.WriteLine();
                    TerminalReport.Write(streams.Output, new RunReport(plan.StatsPath ?? "this run", document));
                }
            }

            return OverallStatus(vms);
        }
        finally
        {
            statsFile?.Dispose();
            foreach (Vm vm in vms)
                vm.Dispose();
            foreach (SerialSink sink in sinks)
                sink.Dispose();
        }
    }

    /// <summary>
    /// One guest: its own status. Several: the status of the first guest (in command-line order) that did not
    /// end by itself (a triple fault, a limit, Ctrl-C...), or else the first guest's.
    /// </summary>
    public static int OverallStatus(IReadOnlyList<Vm> vms)
    {
        Vm? troubled = vms.FirstOrDefault(v => v.Exit!.Kind is not (VmExitKind.DebugExit or VmExitKind.HaltedForever or VmExitKind.Reset));
        return GuestExitStatus.For((troubled ?? vms[0]).Exit!);
    }

    private static void ReportEnds(IReadOnlyList<Vm> vms, CliStreams streams)
    {
        foreach (Vm vm in vms)
        {
            if (GuestExitStatus.IsWorthReporting(vm.Exit!))
                streams.Error.WriteLine($"minihv: {vm.Name}: {vm.Exit!.Message}");
            if (vm.FinalRegisterDump is string dump)
                streams.Error.Write(dump);
        }

        streams.Error.Flush();
    }

    private static Serilog.Core.Logger? CreateFaultLogger(RunPlan plan, CliStreams streams, out int failure)
    {
        failure = ExitStatus.Ok;
        if (plan.Faults == null)
            return null;
        try
        {
            return FaultLogSinks.Configure(plan.Faults.Text ?? (plan.Faults.Console ? streams.Error : null), plan.Faults.JsonPath).CreateLogger();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.Usage, $"--fault-log '{plan.Faults.JsonPath}': {e.Message}");
            return null;
        }
    }

    /// <summary>Each guest's page tables as they were when it stopped, like the course QEMU's <c>info pg</c>.</summary>
    private static void DumpPageTables(IReadOnlyList<Vm> vms, TextWriter output)
    {
        foreach (Vm vm in vms)
        {
            MiniHv.Cpu.Cpu cpu = vm.Cpu;
            if (!cpu.PagingEnabled)
            {
                output.WriteLine($"[{vm.Name}] paging is off: no page tables");
                continue;
            }

            output.WriteLine($"[{vm.Name}] page tables at cr3 {cpu.Cr3:x8}:");
            output.Write(CurrentPageTables.Format(cpu, GuestMemoryInspection.WordReader(vm.Memory), GuestMemoryInspection.Backing(vm.Memory)));
        }

        output.Flush();
    }

    /// <summary>--monitor: each command on each guest as it was when it stopped, under a "[name] (monitor) COMMAND" line.</summary>
    private static void RunMonitor(IReadOnlyList<string> commands, IReadOnlyList<Vm> vms, SharingEngine? engine, TextWriter output)
    {
        var monitor = new MonitorCommands(() => engine);
        foreach (Vm vm in vms)
        foreach (string command in commands)
        {
            output.WriteLine($"[{vm.Name}] (monitor) {command}");
            output.Write(monitor.Execute(vm, command));
        }

        output.Flush();
    }

    /// <summary>The swap space of a run with --machine-memory: its file (a temporary one unless --swap names it), as big as --swap-size or the guests' RAM.</summary>
    private static SwapSpace? OpenSwap(RunPlan plan, long guestFrames, CliStreams streams, out int failure)
    {
        failure = ExitStatus.Ok;
        long slots = plan.SwapSizeBytes is long bytes ? bytes >> MachineMemory.FrameShift : guestFrames;
        try
        {
            return new SwapSpace(new FileSwapDevice(plan.SwapPath, plan.KeepSwap), slots);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.Usage, $"--swap '{plan.SwapPath ?? "(a temporary file)"}': {e.Message}");
            return null;
        }
    }

    /// <summary>Makes the serial directory and opens the stats file before anything runs, so a bad path fails at once.</summary>
    private static bool PrepareOutputs(RunPlan plan, CliStreams streams, out FileStream? statsFile, out int failure)
    {
        statsFile = null;
        failure = ExitStatus.Ok;
        try
        {
            if (plan.SerialDir != null)
                Directory.CreateDirectory(plan.SerialDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.Usage, $"--serial-dir '{plan.SerialDir}': {e.Message}");
            return false;
        }

        try
        {
            if (plan.StatsPath != null)
                statsFile = new FileStream(plan.StatsPath, FileMode.Create, FileAccess.Write, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.Usage, $"--stats '{plan.StatsPath}': {e.Message}");
            return false;
        }

        return true;
    }
}

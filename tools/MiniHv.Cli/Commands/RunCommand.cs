using System.CommandLine;
using System.Net;
using MiniHv.Cli.Debugging;
using MiniHv.Cli.Commands.Config;
using MiniHv.Cli.Running;
using MiniHv.Hv.Devices.Ide;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Commands;

/// <summary>
/// <c>minihv run</c>: boot one multiboot kernel with COM1 on stdin and stdout, as <c>qemu-system-i386
/// -kernel</c> does, or several side by side in one process.
/// </summary>
internal static class RunCommand
{
    /// <param name="run">What runs the plan; by default <see cref="GuestSession.Run"/> (tests look at the plan instead).</param>
    public static Command Create(CliStreams streams, Func<RunPlan, Serilog.ILogger, CancellationToken, int>? run = null)
    {
        run ??= (plan, log, cancel) => GuestSession.Run(plan, streams, log, cancel);
        var image = new Argument<string?>("IMAGE")
        {
            Description = "a multiboot v1 ELF32 kernel image or a Linux bzImage (optional with --guest)",
            Arity = ArgumentArity.ZeroOrOne,
            Validators = { r => { if (r.GetValueOrDefault<string?>() is ['-', ..] word) r.AddError($"unknown option '{word}'"); } },
        };
        var append = new Option<string>("--append")
        {
            Description = "kernel command line, after the image path (QEMU's -append)",
            HelpName = "TEXT",
            DefaultValueFactory = _ => "",
        };
        var initrd = new Option<string?>("--initrd", "-initrd")
        {
            Description = "the initial ramdisk for a Linux bzImage IMAGE (QEMU's -initrd)",
            HelpName = "FILE",
        };
        var systemMap = new Option<string?>("--system-map")
        {
            Description = "the System.map of a Linux bzImage IMAGE: the statistics then say which shared frames are its kernel text and data",
            HelpName = "FILE",
        };
        var memory = CommonOptions.Memory("128M");
        var count = new Option<int>("--count")
        {
            Description = "run N copies of IMAGE, named IMAGE-1 ... IMAGE-N",
            HelpName = "N",
            DefaultValueFactory = _ => 1,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 1024) r.AddError("--count must be from 1 to 1024"); } },
        };
        var guest = new Option<GuestSpec[]>("--guest")
        {
            Description = "one more guest: IMAGE[,append=TEXT][,initrd=FILE][,system-map=FILE][,memory=SIZE][,name=NAME][,salt=GROUP][,shares=N][,smp=N][,cap=SIZE] (repeatable; ',,' is a comma)",
            HelpName = "SPEC",
            AllowMultipleArgumentsPerToken = false,
            CustomParser = r =>
            {
                var specs = new List<GuestSpec>();
                foreach (var token in r.Tokens)
                {
                    if (GuestSpec.TryParse(token.Value, out GuestSpec? spec, out string error))
                        specs.Add(spec!);
                    else
                        r.AddError(error);
                }

                return specs.ToArray();
            },
        };
        var deterministic = new Option<bool>("--deterministic")
        {
            Description = "run all guests on one thread in fixed quanta, so a run replays exactly (default: in parallel)",
        };
        var threads = new Option<int>("--threads")
        {
            // No DefaultValueFactory: the help would print this machine's core count beside the text below.
            Description = "host threads for the guests in parallel mode [default: the number of cores]",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 1024) r.AddError("--threads must be from 1 to 1024"); } },
        };
        var quantum = new Option<long?>("--quantum")
        {
            Description = "instructions each guest runs per turn [default: 100000 deterministic, 1000000 parallel]",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<long?>() is <= 0) r.AddError("--quantum must be a positive count"); } },
        };
        var paging = new Option<string>("--paging")
        {
            Description = "shadow: shadow page tables; walk: walk the guest's tables on every TLB miss (for comparison)",
            HelpName = "MODE",
            DefaultValueFactory = _ => "shadow",
        };
        paging.AcceptOnlyFromAmong("shadow", "walk");
        var cpu = new Option<string>("--cpu")
        {
            Description = "interp: the decoded-block interpreter; jit: also compile hot blocks to host code on a background thread",
            HelpName = "TIER",
            DefaultValueFactory = _ => VmConfig.DefaultTier.ToString().ToLowerInvariant(),
        };
        cpu.AcceptOnlyFromAmong("interp", "jit");
        var cpuFeatures = new Option<string>("--cpu-features")
        {
            Description = "fpu: CPUID reports the x87 FPU, as a Pentium Pro; no-fpu: hide it (x87 instructions raise #UD, #NM with CR0.EM), for math-emulation and teaching kernels",
            HelpName = "SET",
            DefaultValueFactory = _ => "fpu",
        };
        cpuFeatures.AcceptOnlyFromAmong("fpu", "no-fpu");
        var smp = new Option<string?>("--smp", "-smp")
        {
            Description = "processors per guest (QEMU's -smp: N, or N with sockets=, cores=, threads= that multiply to N), 1 to "
                + $"{VmConfig.MaxProcessors} [default: 1]",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<string?>() is string t && !SmpSpec.TryParse(t, out _, out string why)) r.AddError(why); } },
        };
        var serialDir = new Option<string?>("--serial-dir")
        {
            Description = "also write each guest's COM1 output to DIR/NAME.log",
            HelpName = "DIR",
        };
        var stats = new Option<string?>("--stats")
        {
            Description = "write the run's statistics (per guest: end, instructions, shadow MMU counters) as JSON",
            HelpName = "FILE",
        };
        var sharing = new Option<string>("--sharing")
        {
            Description = "page sharing: off; guest (within each guest); all (across guests); salted (across guests of one salt= group)",
            HelpName = "POLICY",
            DefaultValueFactory = _ => "off",
        };
        sharing.AcceptOnlyFromAmong("off", "guest", "all", "salted");
        var scanRate = new Option<string>("--scan-rate")
        {
            Description = "frames the sharing scanner hashes per second (virtual time when deterministic), or auto: faster while "
                + "full scans find merges, slower when they do not",
            HelpName = "N|auto",
            DefaultValueFactory = _ => RunPlan.DefaultScanRate.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Validators = { r => { if (!TryScanRate(r.GetValueOrDefault<string>(), out _, out _)) r.AddError("--scan-rate must be a positive number of frames per second, or auto"); } },
        };
        var scanThreads = new Option<int?>("--scan-threads")
        {
            Description = "parallel runs: sharing scanner threads beside the guests [default: 1]",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<int?>() is < 1 or > 64) r.AddError("--scan-threads must be from 1 to 64"); } },
        };
        var scanFullEvery = new Option<long?>("--scan-full-every")
        {
            Description = "deterministic only: also scan every frame twice (a full merge pass) each N instructions per guest",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<long?>() is <= 0) r.AddError("--scan-full-every must be a positive count"); } },
        };
        var faultLog = new Option<string?>("--fault-log")
        {
            Description = "write every guest fault as one JSON object per line (Serilog compact format) to FILE",
            HelpName = "FILE",
        };
        var faults = new Option<bool>("--faults")
        {
            Description = "print a line on stderr for every fault a guest takes (and the hidden ones --log-hidden picks)",
        };
        var logHidden = new Option<string>("--log-hidden")
        {
            Description = "which hidden faults (zero-frame and copy-on-write breaks, page-table writes, A/D updates, swap-ins) are logged: none, all, every:N, N/s; all are counted",
            HelpName = "RULE",
            DefaultValueFactory = _ => "none",
            Validators = { r => { if (!FaultSampling.TryParse(r.GetValueOrDefault<string>(), out _)) r.AddError($"--log-hidden '{r.GetValueOrDefault<string>()}': none, all, every:N or N/s"); } },
        };
        var dumpPt = new Option<bool>("--dump-pt")
        {
            Description = "when each guest stops, print its page tables as ranges (like the course QEMU's info pg) on stderr",
        };
        var memoryCap = new Option<long?>("--memory-cap")
        {
            Description = "the most machine memory each guest may hold privately (shared frames do not count); a guest that needs more stops, the others go on",
            HelpName = "SIZE",
            CustomParser = r =>
            {
                if (SizeParser.TryParse(r.Tokens[0].Value, out long bytes, out string error) && bytes >= 4096)
                    return bytes;
                r.AddError($"--memory-cap '{r.Tokens[0].Value}': {(error.Length > 0 ? error : "at least one 4 KiB frame")}");
                return null;
            },
        };
        var machineMemory = new Option<long?>("--machine-memory")
        {
            Description = "the machine's memory, which may be less than the guests' RAM together: frames are then swapped out to --swap when it runs short",
            HelpName = "SIZE",
            CustomParser = r =>
            {
                if (CommonOptions.TryParseMachineMemory(r.Tokens[0].Value, out long bytes, out string error))
                    return bytes;
                r.AddError(error);
                return null;
            },
        };
        var swap = new Option<string?>("--swap")
        {
            Description = "with --machine-memory: the swap file (created, or emptied) [default: a temporary file, deleted at exit]",
            HelpName = "FILE",
        };
        var swapSize = new Option<long?>("--swap-size")
        {
            Description = "with --machine-memory: the most the swap file holds [default: the guests' RAM together]",
            HelpName = "SIZE",
            CustomParser = r =>
            {
                if (SizeParser.TryParse(r.Tokens[0].Value, out long bytes, out string error) && bytes >= 4096)
                    return bytes;
                r.AddError($"--swap-size '{r.Tokens[0].Value}': {(error.Length > 0 ? error : "at least one 4 KiB frame")}");
                return null;
            },
        };
        var keepSwap = new Option<bool>("--keep-swap")
        {
            Description = "leave the swap file in place at exit",
        };
        var balloon = new Option<string>("--balloon")
        {
            Description = "with --machine-memory: a balloon device in each guest, asked for free pages before anything is swapped [default: on]",
            HelpName = "on|off",
        };
        balloon.AcceptOnlyFromAmong(RunConfigKeys.BalloonModes);
        var hda = new Option<string?>("--hda", "-hda")
        {
            Description = "the IDE primary master: a raw disk image file (QEMU's -hda); without IMAGE the guest boots from its sector 0, as a BIOS would",
            HelpName = "FILE",
        };
        var hdb = new Option<string?>("--hdb", "-hdb")
        {
            Description = "the IDE primary slave: a raw disk image file (QEMU's -hdb)",
            HelpName = "FILE",
        };
        var snapshot = new Option<bool>("--snapshot", "-snapshot")
        {
            Description = "disk writes stay in memory and the image files are never changed (QEMU's -snapshot); without it they reach the files, flushed when the guest ends",
        };
        var status = CommonOptions.Status();
        var configFile = new Option<string?>("--config")
        {
            Description = "read the guests and settings from FILE (YAML or JSON); options given beside it replace the file's settings, IMAGE and --guest add guests after the file's",
            HelpName = "FILE",
        };
        var saveConfig = new Option<string?>("--save-config")
        {
            Description = "run nothing: write the guests and settings this command line gives (with --config's) to FILE, JSON for .json, else YAML; - for stdout",
            HelpName = "FILE",
        };
        var gdb = new Option<string?>("--gdb")
        {
            Description = "serve gdb's remote protocol for one guest on tcp::PORT (127.0.0.1) or tcp:ADDRESS:PORT, as QEMU's -gdb; port 0 picks one",
            HelpName = "DEV",
        };
        var gdbDefault = new Option<bool>("-s") { Description = "shorthand for --gdb tcp::1234" };
        var gdbFreeze = new Option<bool>("-S") { Description = "with --gdb or -s: hold the debugged guest before its first instruction until gdb continues it" };
        var gdbGuest = new Option<string?>("--gdb-guest")
        {
            Description = "with several guests: the one gdb debugs, by name [default: the first]; the others keep running",
            HelpName = "NAME",
        };
        var monitor = new Option<string[]>("--monitor")
        {
            Description = "a monitor command (info registers, info pg, info sharing, info faults [N]) to run on each guest when it stops, output on stderr (repeatable)",
            HelpName = "COMMAND",
        };
        var timeout = CommonOptions.Timeout();
        var maxInstructions = CommonOptions.MaxInstructions();
        var verbose = CommonOptions.Verbose();

        var command = new Command("run", """
            Boot multiboot kernels or Linux bzImages (with --initrd): one with COM1 on stdin/stdout, like
            qemu-system-i386 -kernel, or several
            side by side (--count, --guest), each output line prefixed with [name]; or without IMAGE boot
            from the --hda disk's sector 0 as a BIOS would (qemu-system-i386 -hda). Exit status: QEMU's
            (v << 1) | 1 after a write of v to the isa-debug-exit port 0xf4; 0 when the guest halts for good;
            2 bad option; 4 bad image; 6 triple fault (register dump on stderr); 8 --timeout or
            --max-instructions reached; 10 out of memory; 12 unsupported; 130 Ctrl-C.
            """)
        {
            image, append, initrd, systemMap, memory, smp, count, guest, deterministic, threads, quantum, paging, cpu, cpuFeatures, sharing, scanRate, scanThreads, scanFullEvery,
            serialDir, stats, faultLog, faults, logHidden, dumpPt, memoryCap, machineMemory, swap, swapSize, keepSwap, balloon, hda, hdb, snapshot, status, timeout, maxInstructions, verbose,
            configFile, saveConfig,
            gdb, gdbDefault, gdbFreeze, gdbGuest, monitor,
        };

        // What the command line states, and nothing it leaves to defaults, so that it can override a config file's.
        RunConfig Stated(ParseResult parse)
        {
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            var guests = new List<GuestEntry>();
            string? path = parse.GetValue(image), master = parse.GetValue(hda), slave = parse.GetValue(hdb);
            if (path != null || master != null || slave != null)
                guests.Add(new GuestEntry(path, parse.GetValue(append), Count: parse.GetValue(count), Hda: master, Hdb: slave,
                    Initrd: parse.GetValue(initrd), SystemMap: parse.GetValue(systemMap)));
            foreach (GuestSpec spec in parse.GetValue(guest) ?? [])
            {
                guests.Add(new GuestEntry(spec.Image, spec.Append, spec.MemoryBytes, spec.Name, spec.Salt, spec.CapBytes,
                    Hda: spec.Hda, Hdb: spec.Hdb, Snapshot: spec.Snapshot, Initrd: spec.Initrd, Processors: spec.Processors,
                    SystemMap: spec.SystemMap, Shares: spec.Shares));
            }
            return new RunConfig
            {
                Guests = guests,
                MemoryBytes = parse.GetValue(memory),
                MemoryCapBytes = parse.GetValue(memoryCap),
                MachineMemoryBytes = parse.GetValue(machineMemory),
                SwapPath = parse.GetValue(swap),
                SwapSizeBytes = parse.GetValue(swapSize),
                KeepSwap = Given(keepSwap) ? parse.GetValue(keepSwap) : null,
                Balloon = Given(balloon) ? parse.GetValue(balloon) == "on" : null,
                Sharing = Given(sharing) ? Enum.Parse<SharingPolicy>(parse.GetValue(sharing)!, ignoreCase: true) : null,
                ScanRate = Given(scanRate) && TryScanRate(parse.GetValue(scanRate), out long rate, out bool auto) && !auto ? rate : null,
                ScanAuto = Given(scanRate) ? parse.GetValue(scanRate) == "auto" : null,
                ScanThreads = parse.GetValue(scanThreads),
                ScanFullEvery = parse.GetValue(scanFullEvery),
                Deterministic = Given(deterministic) ? parse.GetValue(deterministic) : null,
                Threads = Given(threads) ? parse.GetValue(threads) : null,
                Quantum = parse.GetValue(quantum),
                Paging = Given(paging) ? Enum.Parse<PagingMode>(parse.GetValue(paging)!, ignoreCase: true) : null,
                Tier = Given(cpu) ? Enum.Parse<MiniHv.Cpu.CpuTier>(parse.GetValue(cpu)!, ignoreCase: true) : null,
                TimeoutSeconds = parse.GetValue(timeout),
                MaxInstructions = parse.GetValue(maxInstructions),
                SerialDir = parse.GetValue(serialDir),
                StatsPath = parse.GetValue(stats),
                FaultLogPath = parse.GetValue(faultLog),
                // -v prints every fault as --faults does.
                Faults = parse.GetValue(verbose) ? true : Given(faults) ? parse.GetValue(faults) : null,
                LogHidden = Given(logHidden) && FaultSampling.TryParse(parse.GetValue(logHidden), out FaultSampling hidden) ? hidden : null,
                DumpPageTables = Given(dumpPt) ? parse.GetValue(dumpPt) : null,
                Snapshot = Given(snapshot) ? parse.GetValue(snapshot) : null,
                CpuFeatures = Given(cpuFeatures) ? parse.GetValue(cpuFeatures) : null,
                Processors = parse.GetValue(smp) is string n && SmpSpec.TryParse(n, out int processors, out _) ? processors : null,
            };
        }

        command.SetAction((parse, cancel) =>
        {
            if (parse.GetValue(image) == null && parse.GetValue(hda) == null && parse.GetValue(count) != 1)
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "--count needs an IMAGE or --hda"));
            if (parse.GetValue(image) == null && parse.GetValue(initrd) != null)
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "--initrd needs a Linux bzImage IMAGE (or initrd= in a --guest)"));
            if (parse.GetValue(image) == null && parse.GetValue(systemMap) != null)
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "--system-map needs a Linux bzImage IMAGE (or system-map= in a --guest)"));
            RunConfig config = Stated(parse);
            try
            {
                if (parse.GetValue(configFile) is string file)
                    config = RunConfigReader.Load(file).OverriddenBy(config);
                if (parse.GetValue(saveConfig) is string target)
                {
                    RunConfigWriter.Save(config, target, streams.Output);
                    return Task.FromResult(ExitStatus.Ok);
                }
            }
            catch (RunConfigException e)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, e.Message));
            }

            if (!TryPlan(config, streams, out RunPlan? plan, out int failure))
                return Task.FromResult(failure);
            if (!TryGdbPlan(parse.GetValue(gdb), parse.GetValue(gdbDefault), parse.GetValue(gdbFreeze), parse.GetValue(gdbGuest), plan!.Guests,
                    out GdbPlan? debug, out string gdbError))
                return Task.FromResult(streams.Fail(ExitStatus.Usage, gdbError));
            string[] monitorCommands = parse.GetValue(monitor) ?? [];
            plan = plan! with
            {
                Status = CommonOptions.ParseStatus(parse.GetValue(status)!),
                Gdb = debug,
                Monitor = monitorCommands.Length > 0 ? monitorCommands : null,
            };
            return Task.FromResult(run(plan, Logging.ToStderr(parse.GetValue(verbose)), cancel));
        });
        return command;
    }

    /// <summary>The run <paramref name="config"/> describes, with every default applied and each image read once.</summary>
    private static bool TryPlan(RunConfig config, CliStreams streams, out RunPlan? plan, out int failure)
    {
        plan = null;
        var common = new GuestDefaults(
            config.MemoryBytes ?? VmConfig.DefaultMemoryBytes,
            config.MemoryCapBytes,
            config.TimeoutSeconds is double s ? TimeSpan.FromSeconds(s) : null,
            config.MaxInstructions,
            config.Paging ?? PagingMode.Shadow,
            config.Tier ?? VmConfig.DefaultTier,
            config.Snapshot ?? false,
            config.CpuFeatures == "no-fpu",
            config.Processors ?? 1);
        if (config.Guests.Count == 0)
        {
            failure = streams.Fail(ExitStatus.Usage, "no guest to run: give an IMAGE, --guest or a --config with guests (see 'minihv run --help')");
            return false;
        }

        if (!TryConfigure(config.Guests, common, streams, out List<VmConfig> configs, out List<IReadOnlyList<LoadSegment>?> kernels, out failure))
            return false;
        if (config.ScanFullEvery != null && config.Deterministic != true)
        {
            failure = streams.Fail(ExitStatus.Usage, config.Origins.TryGetValue(RunConfigKeys.ScanFullEvery, out string? at)
                ? $"{at}: scan_full_every needs deterministic: true (or --deterministic)"
                : "--scan-full-every needs --deterministic");
            return false;
        }

        if (config.MachineMemoryBytes == null && (config.SwapPath != null || config.SwapSizeBytes != null || config.KeepSwap == true || config.Balloon == true))
        {
            string which = config.SwapPath != null ? "swap" : config.SwapSizeBytes != null ? "swap_size" : config.KeepSwap == true ? "keep_swap" : "balloon";
            failure = streams.Fail(ExitStatus.Usage, config.Origins.TryGetValue(which, out string? where)
                ? $"{where}: {which} needs machine_memory (or --machine-memory)"
                : $"--{which.Replace('_', '-')} needs --machine-memory");
            return false;
        }

        plan = new RunPlan(configs, config.Deterministic ?? false, config.Threads ?? Environment.ProcessorCount, config.Quantum,
            config.SerialDir, config.StatsPath,
            Sharing: config.Sharing ?? SharingPolicy.Off,
            ScanRate: config.ScanRate ?? RunPlan.DefaultScanRate,
            ScanFullEvery: config.ScanFullEvery,
            ScanAuto: config.ScanAuto ?? false,
            ScanThreads: config.ScanThreads ?? 1,
            Faults: FaultLoggingFor(config.Faults ?? false, config.FaultLogPath, config.LogHidden ?? FaultSampling.None),
            DumpPageTables: config.DumpPageTables ?? false,
            MachineMemoryBytes: config.MachineMemoryBytes,
            SwapPath: config.SwapPath,
            SwapSizeBytes: config.SwapSizeBytes,
            KeepSwap: config.KeepSwap ?? false,
            Balloon: config.MachineMemoryBytes != null && (config.Balloon ?? true),
            Kernels: kernels.Any(k => k != null) ? kernels : null);
        return true;
    }

    /// <summary>A --scan-rate: a positive number of frames per second, or auto.</summary>
    private static bool TryScanRate(string? text, out long rate, out bool auto)
    {
        auto = text == "auto";
        rate = RunPlan.DefaultScanRate;
        return auto || (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out rate) && rate >= 1);
    }

    /// <summary>The gdb stub the options ask for (null for none), checked against the guests' names.</summary>
    private static bool TryGdbPlan(string? spec, bool shorthand, bool freeze, string? guest, IReadOnlyList<VmConfig> guests,
        out GdbPlan? plan, out string error)
    {
        plan = null;
        error = "";
        if (spec != null && shorthand)
        {
            error = "give --gdb or -s, not both";
            return false;
        }

        if (spec == null && !shorthand)
        {
            error = freeze ? "-S needs --gdb or -s: nothing could continue the guest" : guest != null ? "--gdb-guest needs --gdb or -s" : "";
            return error.Length == 0;
        }

        IPEndPoint? endpoint = new(IPAddress.Loopback, GdbPlan.DefaultPort);
        if (spec != null && !GdbPlan.TryParseEndpoint(spec, out endpoint, out error))
            return false;
        if (guest != null && guests.All(g => g.Name != guest))
        {
            error = $"--gdb-guest '{guest}': no such guest (the guests are {string.Join(", ", guests.Select(g => g.Name))})";
            return false;
        }

        plan = new GdbPlan(endpoint!, freeze, guest);
        return true;
    }

    private static FaultLogging? FaultLoggingFor(bool console, string? jsonPath, FaultSampling hidden)
    {
        if (!console && jsonPath == null)
            return null;
        return new FaultLogging(console, jsonPath, new FaultLogPolicy(FaultSampling.All, hidden));
    }

    /// <summary>What every guest of a run shares unless its --guest says otherwise.</summary>
    private sealed record GuestDefaults(long MemoryBytes, long? MemoryCapBytes, TimeSpan? Timeout, long? MaxInstructions, PagingMode Paging,
        MiniHv.Cpu.CpuTier Tier, bool Snapshot, bool HideFpu, int Processors);

    /// <summary>Reads each image once and names every guest uniquely.</summary>
    private static bool TryConfigure(IReadOnlyList<GuestEntry> wanted, GuestDefaults common,
        CliStreams streams, out List<VmConfig> configs, out List<IReadOnlyList<LoadSegment>?> kernels, out int failure)
    {
        configs = new List<VmConfig>();
        kernels = new List<IReadOnlyList<LoadSegment>?>();
        var systemMaps = new Dictionary<string, IReadOnlyList<LoadSegment>>();
        failure = ExitStatus.Ok;
        var images = new Dictionary<string, byte[]>();
        var names = new HashSet<string>();
        var diskUsers = new Dictionary<string, (string Guest, bool Writes)>(); // a disk file (full path): a guest using it, and whether one writes it
        foreach (GuestEntry entry in wanted)
        foreach (string? name in entry.Names())
        {
            string at = entry.Origin == null ? "" : $"{entry.Origin}: ";
            if (entry.Image == null && entry.Hda == null)
            {
                failure = streams.Fail(ExitStatus.Usage, $"{at}a guest without a kernel IMAGE boots from its first disk: give --hda FILE (hda= in --guest or a config file)");
                return false;
            }

            string path = entry.BootFile;
            string unique = name ?? Path.GetFileNameWithoutExtension(path);
            for (int k = 2; !names.Add(unique); k++)
                unique = $"{name ?? Path.GetFileNameWithoutExtension(path)}-{k}";
            bool snapshot = entry.Snapshot ?? common.Snapshot;
            DiskImage? master = null, slave = null;
            if ((entry.Hda != null && !TryDisk(entry.Hda, snapshot, unique, at, diskUsers, streams, out master, out failure))
                || (entry.Hdb != null && !TryDisk(entry.Hdb, snapshot, unique, at, diskUsers, streams, out slave, out failure)))
                return false;
            if (entry.Image == null && entry.Initrd != null)
            {
                failure = streams.Fail(ExitStatus.Usage, $"{at}an initrd needs a Linux bzImage kernel, and this guest boots from its disk");
                return false;
            }

            if (entry.Image == null && entry.SystemMap != null)
            {
                failure = streams.Fail(ExitStatus.Usage, $"{at}a System.map needs a Linux bzImage kernel, and this guest boots from its disk");
                return false;
            }

            if (entry.Image == null)
            {
                configs.Add(new VmConfig
                {
                    Name = unique,
                    Image = ReadOnlyMemory<byte>.Empty,
                    BootFromDisk = true,
                    PrimaryMaster = master,
                    PrimarySlave = slave,
                    MemoryBytes = entry.MemoryBytes ?? common.MemoryBytes,
                    Timeout = common.Timeout,
                    MaxInstructions = common.MaxInstructions,
                    Paging = common.Paging,
                    Tier = common.Tier,
                    HideFpu = common.HideFpu,
                    Processors = entry.Processors ?? common.Processors,
                    Salt = entry.Salt,
                Shares = entry.Shares,
                    MemoryCapBytes = entry.CapBytes ?? common.MemoryCapBytes,
                });
                kernels.Add(null);
                continue;
            }

            if (!TryRead(path, "kernel image", at, images, streams, out byte[]? bytes, out failure))
                return false;
            byte[]? initrd = null;
            if (entry.Initrd is string initrdPath && !TryRead(initrdPath, "initrd", at, images, streams, out initrd, out failure))
                return false;
            // QEMU hands Linux the -append text alone, and a multiboot kernel "PATH APPEND".
            bool linux = BzImage.LooksLikeLinux(bytes);
            IReadOnlyList<LoadSegment>? kernel = null;
            if (entry.SystemMap is string mapPath && !TrySystemMap(mapPath, linux, at, systemMaps, streams, out kernel, out failure))
                return false;
            kernels.Add(kernel);

            configs.Add(new VmConfig
            {
                Name = unique,
                Image = bytes,
                CommandLine = linux ? entry.Append ?? "" : MultibootLoader.QemuCommandLine(path, entry.Append ?? ""),
                Initrd = initrd is null ? (ReadOnlyMemory<byte>?)null : initrd, // the cast keeps null: a null array would become an empty ReadOnlyMemory
                MemoryBytes = entry.MemoryBytes ?? common.MemoryBytes,
                Timeout = common.Timeout,
                MaxInstructions = common.MaxInstructions,
                Paging = common.Paging,
                Tier = common.Tier,
                HideFpu = common.HideFpu,
                Processors = entry.Processors ?? common.Processors,
                Salt = entry.Salt,
                Shares = entry.Shares,
                MemoryCapBytes = entry.CapBytes ?? common.MemoryCapBytes,
                PrimaryMaster = master,
                PrimarySlave = slave,
            });
        }

        return true;
    }

    /// <summary>Where a Linux kernel's text and data lie, from its System.map, read once however many guests use it.</summary>
    private static bool TrySystemMap(string path, bool linux, string at, Dictionary<string, IReadOnlyList<LoadSegment>> maps, CliStreams streams,
        out IReadOnlyList<LoadSegment>? segments, out int failure)
    {
        failure = ExitStatus.Ok;
        segments = null;
        if (!linux)
        {
            failure = streams.Fail(ExitStatus.Usage, $"{at}System.map '{path}': only a Linux bzImage kernel takes one (a multiboot ELF has its own segments)");
            return false;
        }

        if (maps.TryGetValue(path, out segments))
            return true;
        try
        {
            maps[path] = segments = LinuxSystemMap.Segments(File.ReadAllText(path));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"{at}cannot read System.map '{path}': {e.Message}");
        }
        catch (FormatException e)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"{at}System.map '{path}': {e.Message}");
        }

        return false;
    }

    /// <summary>A file a guest loads into its RAM (kernel or initrd), read once however many guests use it.</summary>
    private static bool TryRead(string path, string what, string at, Dictionary<string, byte[]> files, CliStreams streams,
        out byte[]? bytes, out int failure)
    {
        failure = ExitStatus.Ok;
        if (files.TryGetValue(path, out bytes))
            return true;
        try
        {
            files[path] = bytes = File.ReadAllBytes(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"{at}cannot read {what} '{path}': {e.Message}");
            return false;
        }
    }

    /// <summary>
    /// A raw disk image for guest <paramref name="guestName"/>: a file that exists and holds whole 512-byte sectors.
    /// Without a snapshot the guest writes the file, so no other guest may have it (QEMU's image lock refuses that too).
    /// </summary>
    private static bool TryDisk(string path, bool snapshot, string guestName, string at, Dictionary<string, (string Guest, bool Writes)> users,
        CliStreams streams, out DiskImage? disk, out int failure)
    {
        disk = null;
        failure = ExitStatus.Ok;
        string full;
        long length;
        try
        {
            full = Path.GetFullPath(path);
            var info = new FileInfo(full);
            if (Directory.Exists(full))
                throw new IOException("it is a directory");
            if (!info.Exists)
                throw new FileNotFoundException("no such file");
            length = info.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"{at}cannot open disk image '{path}': {e.Message}");
            return false;
        }

        if (length == 0 || length % IdeDisk.SectorSize != 0)
        {
            failure = streams.Fail(ExitStatus.BadImage, length == 0
                ? $"{at}disk image '{path}' is empty"
                : $"{at}disk image '{path}' is {length} bytes, not a whole number of {IdeDisk.SectorSize}-byte sectors");
            return false;
        }

        // A guest that writes a file must be its only user: another would see its writes mid-run, or write it too.
        if (users.TryGetValue(full, out (string Guest, bool Writes) other) && (other.Writes || !snapshot))
        {
            failure = streams.Fail(ExitStatus.Usage,
                $"{at}disk image '{path}' is used by {other.Guest} and {guestName}, and {(other.Writes ? other.Guest : guestName)} writes it: "
                + "give --snapshot (or snapshot in --guest) to keep the writes in memory");
            return false;
        }

        if (!users.ContainsKey(full) || !snapshot)
            users[full] = (guestName, !snapshot);
        disk = DiskImage.File(path, snapshot);
        return true;
    }
}

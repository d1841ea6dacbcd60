using System.CommandLine;
using MiniHv.Cli.Running;
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
    public static Command Create(CliStreams streams)
    {
        var image = new Argument<string?>("IMAGE")
        {
            Description = "a multiboot v1 ELF32 kernel image (optional with --guest)",
            Arity = ArgumentArity.ZeroOrOne,
            Validators = { r => { if (r.GetValueOrDefault<string?>() is ['-', ..] word) r.AddError($"unknown option '{word}'"); } },
        };
        var append = new Option<string>("--append")
        {
            Description = "kernel command line, after the image path (QEMU's -append)",
            HelpName = "TEXT",
            DefaultValueFactory = _ => "",
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
            Description = "one more guest: IMAGE[,append=TEXT][,memory=SIZE][,name=NAME][,salt=GROUP] (repeatable; ',,' is a comma)",
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
            Description = "host threads for the guests in parallel mode [default: the number of cores]",
            HelpName = "N",
            DefaultValueFactory = _ => Environment.ProcessorCount,
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
        var scanRate = new Option<long>("--scan-rate")
        {
            Description = $"frames the sharing scanner hashes per second (virtual time when deterministic) [default: {RunPlan.DefaultScanRate}]",
            HelpName = "N",
            DefaultValueFactory = _ => RunPlan.DefaultScanRate,
            Validators = { r => { if (r.GetValueOrDefault<long>() is < 1) r.AddError("--scan-rate must be a positive number of frames per second"); } },
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
            Description = "which hidden faults (zero-frame and copy-on-write breaks, page-table writes, A/D updates) are logged: none, all, every:N, N/s [default: none]; all are counted",
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
        var status = CommonOptions.Status();
        var timeout = CommonOptions.Timeout();
        var maxInstructions = CommonOptions.MaxInstructions();
        var verbose = CommonOptions.Verbose();

        var command = new Command("run", """
            Boot multiboot kernels: one with COM1 on stdin/stdout, like qemu-system-i386 -kernel, or several
            side by side (--count, --guest), each output line prefixed with [name]. Exit status: QEMU's
            (v << 1) | 1 after a write of v to the isa-debug-exit port 0xf4; 0 when the guest halts for good;
            2 bad option; 4 bad image; 6 triple fault (register dump on stderr); 8 --timeout or
            --max-instructions reached; 10 out of memory; 12 unsupported; 130 Ctrl-C.
            """)
        {
            image, append, memory, count, guest, deterministic, threads, quantum, paging, sharing, scanRate, scanFullEvery,
            serialDir, stats, faultLog, faults, logHidden, dumpPt, memoryCap, status, timeout, maxInstructions, verbose,
        };

        command.SetAction((parse, cancel) =>
        {
            var common = new GuestDefaults(
                parse.GetValue(memory) ?? VmConfig.DefaultMemoryBytes,
                parse.GetValue(timeout) is double s ? TimeSpan.FromSeconds(s) : null,
                parse.GetValue(maxInstructions),
                parse.GetValue(paging) == "walk" ? PagingMode.Walk : PagingMode.Shadow);
            var wanted = new List<(string Image, string Append, long Memory, string? Name, string? Salt, long? Cap)>();
            if (parse.GetValue(image) is string path)
            {
                int n = parse.GetValue(count);
                string baseName = Path.GetFileNameWithoutExtension(path);
                for (int i = 1; i <= n; i++)
                    wanted.Add((path, parse.GetValue(append)!, common.MemoryBytes, n == 1 ? baseName : $"{baseName}-{i}", null, parse.GetValue(memoryCap)));
            }
            else if (parse.GetValue(count) != 1)
            {
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "--count needs an IMAGE"));
            }

            foreach (GuestSpec spec in parse.GetValue(guest) ?? [])
                wanted.Add((spec.Image, spec.Append ?? "", spec.MemoryBytes ?? common.MemoryBytes, spec.Name, spec.Salt, spec.CapBytes ?? parse.GetValue(memoryCap)));
            if (wanted.Count == 0)
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "no guest to run: give an IMAGE or --guest (see 'minihv run --help')"));

            if (!TryConfigure(wanted, common, streams, out List<VmConfig> configs, out int failure))
                return Task.FromResult(failure);
            if (parse.GetValue(scanFullEvery) != null && !parse.GetValue(deterministic))
                return Task.FromResult(streams.Fail(ExitStatus.Usage, "--scan-full-every needs --deterministic"));
            var plan = new RunPlan(configs, parse.GetValue(deterministic), parse.GetValue(threads), parse.GetValue(quantum),
                parse.GetValue(serialDir), parse.GetValue(stats),
                Sharing: Enum.Parse<SharingPolicy>(parse.GetValue(sharing)!, ignoreCase: true),
                ScanRate: parse.GetValue(scanRate),
                ScanFullEvery: parse.GetValue(scanFullEvery),
                Faults: FaultLoggingFor(parse.GetValue(faults) || parse.GetValue(verbose), parse.GetValue(faultLog), parse.GetValue(logHidden)!),
                DumpPageTables: parse.GetValue(dumpPt),
                Status: CommonOptions.ParseStatus(parse.GetValue(status)!));
            return Task.FromResult(GuestSession.Run(plan, streams, Logging.ToStderr(parse.GetValue(verbose)), cancel));
        });
        return command;
    }

    private static FaultLogging? FaultLoggingFor(bool console, string? jsonPath, string hiddenRule)
    {
        if (!console && jsonPath == null)
            return null;
        FaultSampling.TryParse(hiddenRule, out FaultSampling hidden);
        return new FaultLogging(console, jsonPath, new FaultLogPolicy(FaultSampling.All, hidden));
    }

    /// <summary>What every guest of a run shares unless its --guest says otherwise.</summary>
    private sealed record GuestDefaults(long MemoryBytes, TimeSpan? Timeout, long? MaxInstructions, PagingMode Paging);

    /// <summary>Reads each image once and names every guest uniquely.</summary>
    private static bool TryConfigure(List<(string Image, string Append, long Memory, string? Name, string? Salt, long? Cap)> wanted, GuestDefaults common,
        CliStreams streams, out List<VmConfig> configs, out int failure)
    {
        configs = new List<VmConfig>();
        failure = ExitStatus.Ok;
        var images = new Dictionary<string, byte[]>();
        var names = new HashSet<string>();
        foreach (var (path, text, memoryBytes, name, salt, cap) in wanted)
        {
            if (!images.TryGetValue(path, out byte[]? bytes))
            {
                try
                {
                    images[path] = bytes = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    failure = streams.Fail(ExitStatus.BadImage, $"cannot read kernel image '{path}': {e.Message}");
                    return false;
                }
            }

            string unique = name ?? Path.GetFileNameWithoutExtension(path);
            for (int k = 2; !names.Add(unique); k++)
                unique = $"{name ?? Path.GetFileNameWithoutExtension(path)}-{k}";
            configs.Add(new VmConfig
            {
                Name = unique,
                Image = bytes,
                CommandLine = MultibootLoader.QemuCommandLine(path, text),
                MemoryBytes = memoryBytes,
                Timeout = common.Timeout,
                MaxInstructions = common.MaxInstructions,
                Paging = common.Paging,
                Salt = salt,
                MemoryCapBytes = cap,
            });
        }

        return true;
    }
}

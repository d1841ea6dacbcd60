using System.CommandLine;
using MiniHv.Cli.Running;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Commands;

/// <summary>
/// <c>minihv</c> with no command: four copies of the embedded JOS-style guest run dedupwork and forktree
/// side by side with page sharing across guests, then idle a moment; a live status while they run, then
/// what sharing saved.
/// </summary>
internal static class DemoCommand
{
    public const int Guests = 4;

    /// <summary>Each guest's programs: the same pages in every guest, per-guest ones (the seed), a copy-on-write fork tree, then a short idle.</summary>
    public static string DemoAppend(int guest) => $"prog=dedupwork prog=forktree dedup.rounds=20 seed={guest} jos.idle=50";

    /// <summary>Fast enough that the scanner sees every frame several times in the run.</summary>
    public const long DemoScanRate = 5_000_000;

    /// <summary>The demo's guests and settings (no summary, no status), under <paramref name="tier"/>: for the command and for bench cpu.</summary>
    public static RunPlan Plan(MiniHv.Cpu.CpuTier tier = VmConfig.DefaultTier)
    {
        byte[] image = EmbeddedGuests.Jos();
        var configs = Enumerable.Range(1, Guests).Select(i => new VmConfig
        {
            Name = $"jos-{i}",
            Image = image,
            CommandLine = $"{EmbeddedGuests.JosName} {DemoAppend(i)}",
            MemoryBytes = 64L << 20,
            Tier = tier,
        }).ToList();
        return new RunPlan(configs, Deterministic: true, Sharing: SharingPolicy.All, ScanRate: DemoScanRate, Status: StatusMode.Off);
    }

    public static void Attach(RootCommand root, CliStreams streams)
    {
        var verbose = CommonOptions.Verbose();
        var status = CommonOptions.Status();
        root.Options.Add(verbose);
        root.Options.Add(status);
        root.SetAction((parse, cancel) =>
        {
            streams.Error.WriteLine($"minihv: demo: {Guests} JOS-style guests, \"{DemoAppend(1)}\" (seed 1 to {Guests}), sharing all");
            var plan = Plan() with { Summary = true, Status = CommonOptions.ParseStatus(parse.GetValue(status)!) };
            int result = GuestSession.Run(plan, streams, Logging.ToStderr(parse.GetValue(verbose)), cancel);

            // Each guest ends by writing 0 to the debug-exit port (QEMU's status 1): for the demo, success.
            return Task.FromResult(result == 1 ? ExitStatus.Ok : result);
        });
    }
}

using MiniHv.Cli.Stats;

namespace MiniHv.Cli.Report;

/// <summary>One named value of a section: its key (the stats file's snake_case name), the value, and a note for readers.</summary>
internal sealed record ReportItem(string Key, ReportValue Value, string Note = "");

/// <summary>A list of named values under a title; <see cref="Absent"/> says why the file has none of them (the values are then none).</summary>
internal sealed record ReportSection(string Title, IReadOnlyList<ReportItem> Items, string? Absent = null);

/// <summary>One kind of content among the merged frames: how many guest frames held it, and their share of all counted.</summary>
internal sealed record ContentRow(string Kind, ReportValue Frames, ReportValue Share);

/// <summary>One column of the per-guest table: its key, its header, each guest's value and the totals row's.</summary>
internal sealed record GuestColumn(string Key, string Header, Func<GuestStats, ReportValue> Value, ReportValue Total, string Group, bool InTables = true);

/// <summary>
/// A run's statistics laid out once for every output format: the sections of named values, what the merged
/// frames held, and one row per guest with a totals row. Every value is the file's own or a derivation this
/// class documents where it is made; the formats differ only in how they print them.
/// </summary>
internal sealed class RunReport
{
    /// <summary>by_content's kinds in the order the report lists them (any other kind the file has comes after).</summary>
    public static readonly string[] ContentKinds =
        ["kernel_text", "kernel_data", "kernel_other", "initramfs_file", "user_text", "user_data", "stack", "page_table", "zero"];

    private const double BytesPerMiB = 1 << 20;
    private const long FrameBytes = 4096;

    public RunReport(string source, StatsDocument stats)
    {
        Source = source;
        Stats = stats;
        Sections = stats.Overcommit == null
            ? [RunSection(), MemorySection(), SharingCounters(), SharingExtras()]
            : [RunSection(), MemorySection(), SharingCounters(), SharingExtras(), OvercommitSection()];
        Content = ContentRows(stats.Sharing);
        GuestColumns = Columns();
    }

    /// <summary>The statistics file's path, as given.</summary>
    public string Source { get; }

    public StatsDocument Stats { get; }

    /// <summary>Run, memory totals, KSM's counters, and the counters KSM lacks, in that order.</summary>
    public IReadOnlyList<ReportSection> Sections { get; }

    /// <summary>What the merged frames held (sharing.by_content), or empty without sharing.</summary>
    public IReadOnlyList<ContentRow> Content { get; }

    public IReadOnlyList<GuestColumn> GuestColumns { get; }

    public bool HasSharing => Stats.Sharing != null;

    /// <summary>Whether the run had --machine-memory (and so a swap).</summary>
    public bool HasOvercommit => Stats.Overcommit != null;

    /// <summary>Whether some guest ran with the shadow MMU (the others ran on the plain walk and have no shadow counters).</summary>
    public bool HasShadow => Stats.Guests.Any(g => g.Shadow != null);

    /// <summary>Instructions per host second, in millions: instructions / host_seconds / 1e6 (none when no time was measured).</summary>
    public static ReportValue Mips(long instructions, double seconds)
        => seconds > 0 && double.IsFinite(seconds) ? ReportValue.Rate(instructions / seconds / 1e6, 1) : ReportValue.None;

    /// <summary>What the notes say of a count of frames: its size in MiB (frames × 4096 bytes).</summary>
    public static string FramesNote(long frames) => $"{MiB(frames * FrameBytes)} MiB";

    private static string MiB(long bytes) => (bytes / BytesPerMiB).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private ReportSection RunSection()
    {
        RunInfo run = Stats.Run;
        return new ReportSection("Run",
        [
            new("stats_file", ReportValue.Word(Source)),
            new("minihv", ReportValue.Word(Stats.Minihv), "the minihv that wrote the file"),
            new("created", ReportValue.Word(Stats.Created.ToString("O", System.Globalization.CultureInfo.InvariantCulture))),
            new("scheduler", ReportValue.Word(run.Scheduler)),
            new("threads", ReportValue.Count(run.Threads)),
            new("quantum", ReportValue.Count(run.Quantum), "instructions per guest turn"),
            new("paging", ReportValue.Word(run.Paging)),
            new("host_seconds", ReportValue.Seconds(run.HostSeconds), "the whole run, wall time"),
            new("guest_count", ReportValue.Count(Stats.Guests.Count), "derived: guests in the file"),
            new("sharing_policy", ReportValue.Word(Stats.Sharing?.Policy ?? "off"), Stats.Sharing == null ? "no sharing engine ran" : ""),
            new("scan_rate", ReportValue.Count(Stats.Sharing?.ScanRate), Stats.Sharing == null ? ""
                : Stats.Sharing.ScanAuto ? "--scan-rate auto, starting here: frames per second, doubled while full scans find merges, halved when not"
                : "--scan-rate: frames the scanner hashes per second (virtual time when deterministic)"),
        ]);
    }

    private ReportSection MemorySection()
    {
        MemoryTotals m = Stats.Memory;
        return new ReportSection("Memory at the end",
        [
            new("guest_frames_in_use", ReportValue.Count(m.GuestFramesInUse), $"frames guests ever wrote; {FramesNote(m.GuestFramesInUse)}"),
            new("machine_frames_in_use", ReportValue.Count(m.MachineFramesInUse), $"what the machine holds; {FramesNote(m.MachineFramesInUse)}"),
            new("distinct_contents", ReportValue.Count(m.DistinctContents), "the theoretical minimum of machine frames"),
            new("possible_saving", ReportValue.Count(m.PossibleSaving), $"guest frames in use - distinct contents; {FramesNote(m.PossibleSaving)}"),
            new("achieved_saving", ReportValue.Count(m.AchievedSaving), $"guest frames in use - machine frames in use; {FramesNote(m.AchievedSaving)}"),
            new("efficiency", ReportValue.Fraction(m.Efficiency), "achieved / possible saving"),
        ]);
    }

    private ReportSection SharingCounters()
    {
        SharingTotals? s = Stats.Sharing;
        return new ReportSection("Sharing (Linux KSM's counters)",
        [
            new("pages_shared", ReportValue.Count(s?.PagesShared), "shared machine frames in use"),
            new("pages_sharing", ReportValue.Count(s?.PagesSharing), "guest frames mapped to them beyond the first: frames saved"),
            new("pages_unshared", ReportValue.Count(s?.PagesUnshared), "frames the last full scan found unchanged but matching nothing"),
            new("pages_volatile", ReportValue.Count(s?.PagesVolatile), "frames the last full scan found changed since the scan before"),
            new("full_scans", ReportValue.Count(s?.FullScans), "passes over every guest frame"),
            new("zero_pages", ReportValue.Count(s?.ZeroPages), "guest frames the engine found all zero and mapped to the zero frame (KSM's ksm_zero_pages)"),
            new("general_profit", ReportValue.Count(s?.GeneralProfit), s == null ? "" : $"bytes saved less the engine's metadata; {MiB(s.GeneralProfit)} MiB"),
        ], s == null ? "not in this run: it had no sharing engine (minihv run --sharing off)" : null);
    }

    private ReportSection SharingExtras()
    {
        SharingTotals? s = Stats.Sharing;
        return new ReportSection("Sharing (what KSM does not count)",
        [
            new("merges", ReportValue.Count(s?.Merges), "guest frames remapped onto a shared frame, all scans together"),
            new("zero_merges", ReportValue.Count(s?.ZeroMerges), "guest frames mapped to the zero frame, all scans together"),
            new("cow_breaks", ReportValue.Count(s?.CowBreaks), "writes that broke a shared frame (copy-on-write)"),
            new("zero_breaks", ReportValue.Count(s?.ZeroBreaks), "writes that broke a frame away from the zero frame the engine had mapped it to"),
            new("bytes_saved", ReportValue.Count(s?.BytesSaved), s == null ? "" : $"(pages_sharing + zero_pages) x 4096; {MiB(s.BytesSaved)} MiB"),
            new("frames_hashed", ReportValue.Count(s?.FramesHashed), "all scans together"),
            new("frames_hashed_per_second", ReportValue.Rate(s?.FramesHashedPerSecond, 0), "frames_hashed / scan_seconds"),
            new("hash_collisions", ReportValue.Count(s?.HashCollisions), "same hash, different bytes: never merged"),
            new("scan_seconds", ReportValue.Seconds(s?.ScanSeconds), "host time spent scanning and merging"),
            new("scan_threads", ReportValue.Count(s?.ScanThreads), "--scan-threads: scanner threads beside the guests (0: deterministic, scans between rounds)"),
            new("scanner_cpu_seconds", ReportValue.Seconds(s?.ScannerCpuSeconds), "CPU time of the scanner threads (Linux; 0 when deterministic)"),
            new("merges_abandoned", ReportValue.Count(s?.MergesAbandoned), "merges a guest wrote its frame before it could do them: dropped"),
            new("sharing_stall_seconds", ReportValue.Seconds(s?.SharingStallSeconds), "guest time lost to sharing: merges between quanta (deterministic: every scan) and copy-on-write breaks"),
            new("guest_time_lost_to_sharing", ReportValue.Fraction(s?.GuestTimeLostToSharing), "sharing_stall_seconds / the guests' host time"),
            new("samples", ReportValue.Count(s?.Samples.Count), "derived: memory samples in the file, one per full scan (--chart draws them)"),
        ], s == null ? "not in this run: it had no sharing engine" : null);
    }

    private ReportSection OvercommitSection()
    {
        OvercommitTotals o = Stats.Overcommit!;
        return new ReportSection("Overcommit (--machine-memory)",
        [
            new("machine_frames", ReportValue.Count(o.MachineFrames), $"the machine's memory; {FramesNote(o.MachineFrames)}"),
            new("guest_frames", ReportValue.Count(o.GuestFrames), $"the guests' RAM together; {FramesNote(o.GuestFrames)}"),
            new("overcommit_ratio", ReportValue.Rate(o.OvercommitRatio, 2), "guest_frames / machine_frames"),
            new("reserve_frames", ReportValue.Count(o.ReserveFrames), "kept free for the guests' quanta; the reclaimer runs when fewer are free"),
            new("swapped_out", ReportValue.Count(o.SwappedOut), "guest frames the reclaimer took off the machine: written to swap, or all zero"),
            new("swapped_in", ReportValue.Count(o.SwappedIn), "guest frames an access brought back (major hidden faults)"),
            new("swap_writes", ReportValue.Count(o.SwapWrites), "frames written to the swap file"),
            new("swap_reads", ReportValue.Count(o.SwapReads), "frames read from the swap file"),
            new("zero_reclaimed", ReportValue.Count(o.ZeroReclaimed), "frames found all zero: put on the zero frame, not written"),
            new("shared_swap_outs", ReportValue.Count(o.SharedSwapOuts), "gfns of a shared frame put in the slot a sharer wrote: no write"),
            new("resident_swap_ins", ReportValue.Count(o.ResidentSwapIns), "swap-ins that found a sharer's frame: no read"),
            new("swap_frames_at_end", ReportValue.Count(o.SwapFramesAtEnd), $"in swap when the run ended, of {o.SwapCapacityFrames} (--swap-size)"),
            new("swap_peak_frames", ReportValue.Count(o.SwapPeakFrames), "the most in swap at once"),
            new("major_hidden_faults", ReportValue.Count(o.MajorHiddenFaults), "swap-ins counted by the guests' fault logs"),
            new("swap_in_mean_microseconds", ReportValue.Rate(o.SwapInMeanMicroseconds, 1), "host time of a swap-in: allocate, read, remap"),
            new("reclaim_runs", ReportValue.Count(o.ReclaimRuns), "safepoints that found fewer than reserve_frames free"),
            new("balloon", ReportValue.Word(o.Balloon ? "on" : "off"), "balloon devices in the guests, asked before swap (--balloon)"),
            new("balloon_retargets", ReportValue.Count(o.BalloonRetargets), "times the balloon policy moved the guests' targets"),
            new("reclaimed_by_sharing", ReportValue.Count(o.ReclaimBySource.GetValueOrDefault("sharing")), "frames sharing saved at the end (pages_sharing + zero_pages)"),
            new("reclaimed_by_balloon", ReportValue.Count(o.ReclaimBySource.GetValueOrDefault("balloon")), "machine frames the guests' balloons gave back over the run"),
            new("reclaimed_by_swap", ReportValue.Count(o.ReclaimBySource.GetValueOrDefault("swap")), "frames swap took over the run (swapped_out)"),
        ]);
    }

    /// <summary>Each kind's frames as the file has them, and its share: frames / the sum over all kinds (none when the sum is 0).</summary>
    private static List<ContentRow> ContentRows(SharingTotals? sharing)
    {
        if (sharing == null)
            return [];
        IReadOnlyDictionary<string, long> byContent = sharing.ByContent;
        long sum = byContent.Values.Sum();
        var kinds = ContentKinds.Where(byContent.ContainsKey).Concat(byContent.Keys.Where(k => !ContentKinds.Contains(k)));
        return kinds.Select(k => new ContentRow(k, ReportValue.Count(byContent[k]),
            sum > 0 ? ReportValue.Fraction((double)byContent[k] / sum) : ReportValue.None)).ToList();
    }

    /// <summary>
    /// The per-guest columns. The totals row sums the counts; its host_seconds is the run's (wall time, so its MIPS
    /// is all guests' instructions over the run's time) and its CR3 hit rate is Σ cr3_switch_hits / Σ cr3_switches.
    /// </summary>
    private List<GuestColumn> Columns()
    {
        IReadOnlyList<GuestStats> guests = Stats.Guests;
        long instructions = guests.Sum(g => g.Instructions);
        ReportValue SumOf(Func<GuestStats, long?> f)
            => guests.Any(g => f(g) != null) ? ReportValue.Count(guests.Sum(g => f(g) ?? 0)) : ReportValue.None;
        long switches = guests.Sum(g => g.Shadow?.Cr3Switches ?? 0);
        long hits = guests.Sum(g => g.Shadow?.Cr3SwitchHits ?? 0);

        return
        [
            new("name", "guest", g => ReportValue.Word(g.Name), ReportValue.Word("total"), "guest"),
            new("command_line", "command line", g => ReportValue.Word(g.CommandLine), ReportValue.None, "guest", InTables: false),
            new("exit_reason", "exit", g => ReportValue.Word(g.ExitReason), ReportValue.None, "guest"),
            new("exit_status", "status", g => ReportValue.Count(g.ExitStatus), ReportValue.None, "guest"),
            new("instructions", "instructions", g => ReportValue.Count(g.Instructions), ReportValue.Count(instructions), "guest"),
            new("host_seconds", "seconds", g => ReportValue.Seconds(g.HostSeconds), ReportValue.Seconds(Stats.Run.HostSeconds), "guest"),
            new("mips", "MIPS", g => Mips(g.Instructions, g.HostSeconds), Mips(instructions, Stats.Run.HostSeconds), "guest"),
            new("private_frames", "private", g => ReportValue.Count(g.Memory.PrivateFrames), SumOf(g => g.Memory.PrivateFrames), "memory"),
            new("zero_frames", "zero", g => ReportValue.Count(g.Memory.ZeroFrames), SumOf(g => g.Memory.ZeroFrames), "memory"),
            new("shared_frames", "shared", g => ReportValue.Count(g.Memory.SharedFrames), SumOf(g => g.Memory.SharedFrames), "memory"),
            new("frames_on_stable", "on stable", g => ReportValue.Count(g.Sharing?.FramesOnStable), SumOf(g => g.Sharing?.FramesOnStable), "sharing"),
            new("engine_zero_pages", "zero merged", g => ReportValue.Count(g.Sharing?.ZeroPages), SumOf(g => g.Sharing?.ZeroPages), "sharing"),
            new("breaks", "breaks", g => ReportValue.Count(g.Sharing?.Breaks), SumOf(g => g.Sharing?.Breaks), "sharing"),
            new("hidden_faults", "hidden faults", g => ReportValue.Count(g.Shadow?.HiddenFaults.Total), SumOf(g => g.Shadow?.HiddenFaults.Total), "shadow"),
            new("cr3_hit_rate", "CR3 hits", g => ReportValue.Fraction(g.Shadow?.Cr3HitRate),
                switches > 0 ? ReportValue.Fraction((double)hits / switches) : ReportValue.None, "shadow"),
            new("swapped_frames", "swapped", g => ReportValue.Count(g.Overcommit?.SwappedFrames), SumOf(g => g.Overcommit?.SwappedFrames), "overcommit"),
            new("swap_ins", "swap-ins", g => ReportValue.Count(g.Overcommit?.SwapIns), SumOf(g => g.Overcommit?.SwapIns), "overcommit"),
            new("balloon_target", "balloon target", g => ReportValue.Count(g.Overcommit?.BalloonTarget), SumOf(g => g.Overcommit?.BalloonTarget), "overcommit"),
            new("balloon_size", "balloon", g => ReportValue.Count(g.Overcommit?.BalloonSize), SumOf(g => g.Overcommit?.BalloonSize), "overcommit"),
        ];
    }

    /// <summary>The columns a table shows: the guest and memory ones, the sharing ones if the run shared, the shadow ones if some guest had a shadow MMU.</summary>
    public IEnumerable<GuestColumn> TableColumns()
        => GuestColumns.Where(c => c.InTables && (c.Group is "guest" or "memory" || (c.Group == "sharing" && HasSharing) || (c.Group == "overcommit" && HasOvercommit) || (c.Group == "shadow" && HasShadow)));

    /// <summary>Lines a table adds under the guests: what a "-" means and what the columns count.</summary>
    public IEnumerable<string> GuestNotes()
    {
        yield return "private, zero, shared: the guest's RAM frames with a machine frame of their own, still on (or back on) the zero frame, on a shared frame";
        if (HasSharing)
            yield return "on stable, zero merged, breaks: frames on shared frames and frames the engine put back on the zero frame at the end; breaks away from them over the run";
        if (HasOvercommit)
            yield return "swapped, swap-ins: the guest's frames in swap at the end, and the accesses that read one back (major hidden faults); "
                + "balloon target, balloon: the pages the host asked the guest's balloon for and the pages it held at the end (- without --balloon)";
        if (HasShadow)
            yield return "hidden faults: page-table writes, zero-frame and copy-on-write breaks, A/D updates the hypervisor resolved unseen; CR3 hits: CR3 loads that found their shadow";
        var walkers = Stats.Guests.Where(g => g.Shadow == null).Select(g => g.Name).ToList();
        if (walkers.Count > 0 && HasShadow)
            yield return $"{string.Join(", ", walkers)}: on the plain walk, no shadow counters (-)";
        else if (walkers.Count > 0)
            yield return "every guest ran on the plain walk (--paging walk): no shadow counters";
        yield return "MIPS: instructions / host seconds / 1e6; the total row: all instructions over the run's host seconds";
    }
}

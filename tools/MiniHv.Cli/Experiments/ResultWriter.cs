using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MiniHv.Cli.Experiments;

/// <summary>The experiment's results: results.csv and results.json (one row per point), summary.md.</summary>
internal static class ResultWriter
{
    /// <summary>The columns, in order, with how each is read off a result.</summary>
    public static readonly (string Name, Func<PointResult, object> Value)[] Columns =
    [
        ("sweep", r => r.Point.Sweep),
        ("guests", r => r.Point.Guests),
        ("envs_per_guest", r => r.Point.EnvsPerGuest),
        ("spawn", r => r.Point.Spawn),
        ("lib_kib", r => r.Point.LibKib),
        ("variant", r => r.Point.Variant),
        ("aslr", r => r.Point.Aslr),
        ("sharing", r => r.Point.Sharing.ToString().ToLowerInvariant()),
        ("touch_pct", r => r.Point.TouchPct),
        ("guest_frames", r => r.GuestFrames),
        ("machine_frames", r => r.MachineFrames),
        ("lib_pages", r => r.LibPages),
        ("lib_relocated_pages", r => r.LibRelocatedPages),
        ("lib_mappings", r => r.LibMappings),
        ("lib_guest_frames", r => r.LibGuestFrames),
        ("lib_machine_frames", r => r.LibMachineFrames),
        ("guest_shared_frames", r => r.GuestSharedFrames),
        ("hv_shared_frames", r => r.HvSharedFrames),
        ("pages_shared", r => r.PagesShared),
        ("pages_sharing", r => r.PagesSharing),
        ("zero_pages", r => r.ZeroPages),
        ("cow_breaks", r => r.CowBreaks),
        ("guest_page_faults", r => r.GuestPageFaults),
        ("full_scans", r => r.FullScans),
        ("settle_scans", r => r.SettleScans),
        ("settled", r => r.Settled),
        ("instructions", r => r.Instructions),
        ("settle_seconds", r => Math.Round(r.SettleSeconds, 4)),
        ("wall_seconds", r => Math.Round(r.WallSeconds, 3)),
    ];

    public static void WriteCsv(string path, IReadOnlyList<PointResult> rows) => ResultTable.WriteCsv(path, rows, Columns, Format);

    public static void WriteJson(string path, IReadOnlyList<PointResult> rows) => ResultTable.WriteJson(path, rows, Columns, Format);

    /// <summary>The main findings, in numbers, computed from the rows.</summary>
    public static void WriteSummary(string path, IReadOnlyList<PointResult> rows, SharedObjectConfig config, string command, IReadOnlyList<string> charts,
        IReadOnlyList<Sweeps.PointFailure> failures)
    {
        var sb = new StringBuilder();
        sb.Append("# Shared-object sharing: results\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"Command: `{command}` (config: {config.Source}); {rows.Count} points, ");
        sb.Append(CultureInfo.InvariantCulture, $"guests of {config.MemoryBytes >> 20} MiB, scan rate {config.ScanRate:N0} frames/s of virtual time, ");
        sb.Append(CultureInfo.InvariantCulture, $"{rows.Count(r => r.Settled)} of {rows.Count} settled. Frames are 4 KiB; \"lib\" is the library's memory ");
        sb.Append("(frames mapped at its addresses in any environment, and the page cache), identified from the guests' page tables and by content.\n\n");

        if (failures.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"## Failed points\n\n{failures.Count} of {rows.Count + failures.Count} points failed: they have no rows and the findings leave them out. ");
            sb.Append("Run them again with `--retry-failed` and the same `--out`; each point's file under `points/` holds its whole error.\n\n| point | error |\n| --- | --- |\n");
            foreach (Sweeps.PointFailure f in failures)
                sb.Append(CultureInfo.InvariantCulture, $"| {f.Id} | {f.Error.Split('\n')[0].Replace("|", "\\|", StringComparison.Ordinal)} |\n");
            sb.Append('\n');
        }

        Findings(sb, rows, config.SaltGroups);

        // One table per group of points that differ only in the number of guests.
        foreach (var group in GuestSeries(rows))
        {
            var first = group.First().Point;
            var guests = group.Select(r => r.Point.Guests).Distinct().Order().ToList();
            sb.Append(CultureInfo.InvariantCulture, $"\n## {first.EnvsPerGuest} environments per guest ({first.Spawn}), {first.LibKib} KiB library, {first.TouchPct}% of its data written\n\n");
            sb.Append("Library machine frames (all memory's machine frames in brackets) by number of guests:\n\n");
            sb.Append("| variant | aslr | sharing | ").AppendJoin(" | ", guests.Select(g => $"{g} guest{(g == 1 ? "" : "s")}")).Append(" | per guest |\n");
            sb.Append("| --- | --- | --- | ").AppendJoin(" | ", guests.Select(_ => "---")).Append(" | --- |\n");
            foreach (var line in group.GroupBy(r => (r.Point.Variant, r.Point.Aslr, r.Point.Sharing)).OrderBy(l => l.Key.Variant).ThenBy(l => l.Key.Aslr).ThenBy(l => l.Key.Sharing))
            {
                var byGuests = line.ToDictionary(r => r.Point.Guests);
                sb.Append(CultureInfo.InvariantCulture, $"| {line.Key.Variant} | {line.Key.Aslr} | {line.Key.Sharing.ToString().ToLowerInvariant()} | ");
                sb.AppendJoin(" | ", guests.Select(g => byGuests.TryGetValue(g, out var r) ? $"{r.LibMachineFrames} ({r.MachineFrames})" : ""));
                sb.Append(CultureInfo.InvariantCulture, $" | {Slope(line.ToList(), r => r.Point.Guests, r => r.LibMachineFrames):0.#} |\n");
            }
        }

        var envSeries = rows.GroupBy(r => (r.Point.Guests, r.Point.Spawn, r.Point.LibKib, r.Point.TouchPct, r.Point.Variant, r.Point.Aslr, r.Point.Sharing))
            .Where(g => g.Select(r => r.Point.EnvsPerGuest).Distinct().Count() > 1).ToList();
        if (envSeries.Count > 0)
        {
            sb.Append("\n## Against environments per guest\n\nLibrary machine frames added by each environment (least-squares slope):\n\n");
            sb.Append("| guests | spawn | lib KiB | variant | aslr | sharing | per environment | relocated pages of one load |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
            foreach (var s in envSeries)
            {
                var k = s.Key;
                sb.Append(CultureInfo.InvariantCulture, $"| {k.Guests} | {k.Spawn} | {k.LibKib} | {k.Variant} | {k.Aslr} | {k.Sharing.ToString().ToLowerInvariant()} | ");
                sb.Append(CultureInfo.InvariantCulture, $"{Slope(s.ToList(), r => r.Point.EnvsPerGuest, r => r.LibMachineFrames):0.#} | {s.First().LibRelocatedPages} |\n");
            }
        }

        if (charts.Count > 0)
        {
            sb.Append("\n## Charts\n\n");
            foreach (string c in charts)
                sb.Append(CultureInfo.InvariantCulture, $"![{c}]({c})\n");
        }

        double settle = rows.Where(r => r.Point.Sharing != Hv.Sharing.SharingPolicy.Off).Select(r => r.SettleSeconds).DefaultIfEmpty().Max();
        sb.Append(CultureInfo.InvariantCulture, $"\nThe scanner took at most {settle:0.###} s of host time to settle a point (settle_seconds); every other number is the same on every run of the same config.\n");
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>
    /// Sentences for the effects the experiment is about, where the rows hold them. Each states what the numbers
    /// say: what every guest (or environment) added beyond the first costs, as a share of one copy of the library.
    /// </summary>
    private static void Findings(StringBuilder sb, IReadOnlyList<PointResult> rows, int saltGroups)
    {
        sb.Append("## Findings\n\n");
        int found = 0;
        foreach (var group in GuestSeries(rows))
        {
            var first = group.First().Point;
            string where = $"({first.EnvsPerGuest} environments per guest, {first.LibKib} KiB library, {first.TouchPct}% of its data written)";
            PointResult? Get(string variant, int aslr, Hv.Sharing.SharingPolicy sharing, bool most)
            {
                var line = group.Where(r => r.Point.Variant == variant && r.Point.Aslr == aslr && r.Point.Sharing == sharing).OrderBy(r => r.Point.Guests).ToList();
                return line.Count < 2 ? null : most ? line[^1] : line[0];
            }

            // Library machine frames each guest beyond the first adds, and that as a share of one load's pages.
            static (double PerGuest, double OfACopy) Growth(PointResult a, PointResult b)
            {
                double perGuest = (double)(b.LibMachineFrames - a.LibMachineFrames) / (b.Point.Guests - a.Point.Guests);
                return (perGuest, perGuest / b.LibPages);
            }

            foreach (int aslr in new[] { 0, 1 })
            {
                if (Get("pic", aslr, Hv.Sharing.SharingPolicy.All, false) is { } a && Get("pic", aslr, Hv.Sharing.SharingPolicy.All, true) is { } b)
                {
                    var (perGuest, ofACopy) = Growth(a, b);
                    sb.Append(CultureInfo.InvariantCulture, $"- PIC, sharing all, aslr={aslr}: the library ({b.LibPages} pages a load) takes {a.LibMachineFrames} machine frames in {a.Point.Guests} guest(s) ");
                    sb.Append(CultureInfo.InvariantCulture, $"and {b.LibMachineFrames} in {b.Point.Guests}: each further guest adds {perGuest:0.#} frames, {ofACopy:0%} of a copy ");
                    sb.Append(CultureInfo.InvariantCulture, $"(the pages its environments wrote or relocated: data, GOT) {where}.\n");
                    found++;
                }
            }

            if (Get("pic", 0, Hv.Sharing.SharingPolicy.Off, false) is { } o1 && Get("pic", 0, Hv.Sharing.SharingPolicy.Off, true) is { } o2)
            {
                var (perGuest, ofACopy) = Growth(o1, o2);
                sb.Append(CultureInfo.InvariantCulture, $"- PIC, sharing off: {o1.LibMachineFrames} library frames in {o1.Point.Guests} guest(s), {o2.LibMachineFrames} in {o2.Point.Guests}: ");
                sb.Append(CultureInfo.InvariantCulture, $"each guest adds {perGuest:0.#} ({ofACopy:0%} of a copy); inside each guest its kernel maps one copy into every environment, ");
                sb.Append(CultureInfo.InvariantCulture, $"{o2.GuestSharedFrames} of the {o2.LibMappings} library mappings share a guest frame with another {where}.\n");
                found++;
            }

            foreach (var sharing in new[] { Hv.Sharing.SharingPolicy.All, Hv.Sharing.SharingPolicy.Off })
            {
                if (Get("nonpic", 1, sharing, false) is { } n1 && Get("nonpic", 1, sharing, true) is { } n2 && Get("pic", 1, sharing, true) is { } p2)
                {
                    double perEnv = (double)(n2.LibMachineFrames - n1.LibMachineFrames) / ((n2.Point.Guests - n1.Point.Guests) * first.EnvsPerGuest);
                    sb.Append(CultureInfo.InvariantCulture, $"- Non-PIC with ASLR, sharing {sharing.ToString().ToLowerInvariant()}: {n1.LibMachineFrames} library frames in {n1.Point.Guests} guest(s), {n2.LibMachineFrames} in {n2.Point.Guests} ");
                    sb.Append(CultureInfo.InvariantCulture, $"(PIC: {p2.LibMachineFrames}); each environment adds {perEnv:0.#} frames, and every load relocates {n2.LibRelocatedPages} of the library's {n2.LibPages} pages ");
                    sb.Append(CultureInfo.InvariantCulture, $"at an address of its own {where}.\n");
                    found++;
                }
            }

            if (Get("nonpic", 0, Hv.Sharing.SharingPolicy.Guest, true) is { } g0 && Get("nonpic", 0, Hv.Sharing.SharingPolicy.Off, true) is { } f0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"- Non-PIC without ASLR: every environment relocates the text to the same bytes, so sharing within a guest cuts {f0.LibMachineFrames} library frames ");
                sb.Append(CultureInfo.InvariantCulture, $"to {g0.LibMachineFrames} in {g0.Point.Guests} guests ({(double)g0.LibMachineFrames / f0.LibMachineFrames:0%}) {where}.\n");
                found++;
            }

            if (Get("pic", 0, Hv.Sharing.SharingPolicy.Salted, true) is { } s0 && Get("pic", 0, Hv.Sharing.SharingPolicy.All, true) is { } a0)
            {
                int groups = Math.Min(saltGroups, s0.Point.Guests);
                sb.Append(CultureInfo.InvariantCulture, $"- PIC, salted ({s0.Point.Guests} guests round-robin in {groups} salt groups): {s0.LibMachineFrames} library frames against {a0.LibMachineFrames} with sharing all, ");
                sb.Append(CultureInfo.InvariantCulture, $"{(double)s0.LibMachineFrames / a0.LibMachineFrames:0.##}x {where}.\n");
                found++;
            }
        }

        if (found == 0)
            sb.Append("- (The sweep has no series over the number of guests to compare.)\n");
    }

    /// <summary>Groups of rows that differ only in guests, variant, aslr and sharing, with at least two guest counts.</summary>
    public static IEnumerable<List<PointResult>> GuestSeries(IReadOnlyList<PointResult> rows)
        => rows.GroupBy(r => (r.Point.EnvsPerGuest, r.Point.Spawn, r.Point.LibKib, r.Point.TouchPct))
            .Select(g => g.ToList())
            .Where(g => g.Select(r => r.Point.Guests).Distinct().Count() > 1);

    /// <summary>The least-squares slope of y over x.</summary>
    public static double Slope(IReadOnlyList<PointResult> rows, Func<PointResult, double> x, Func<PointResult, double> y)
    {
        if (rows.Count < 2)
            return double.NaN;
        double mx = rows.Average(x), my = rows.Average(y);
        double num = rows.Sum(r => (x(r) - mx) * (y(r) - my)), den = rows.Sum(r => (x(r) - mx) * (x(r) - mx));
        return den == 0 ? double.NaN : num / den;
    }

    private static string Format(object value) => ResultTable.Format(value, "1", "0");
}

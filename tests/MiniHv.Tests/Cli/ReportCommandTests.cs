using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using MiniHv.Cli.Report;
using MiniHv.Tests.EndToEnd;

namespace MiniHv.Tests.Cli;

/// <summary>
/// <c>minihv report</c> on statistics written by a real <c>minihv run --stats</c>: every format shows the file's
/// own numbers, the chart files are real SVG and PNG, and a bad file gives one line and status 2.
/// </summary>
public class ReportCommandTests
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Two dedupwork guests sharing across guests: every section of the file is there.</summary>
    private string _sharedStats = "";

    /// <summary>Two hello guests on the plain walk without sharing: no sharing section, no shadow counters, no samples.</summary>
    private string _plainStats = "";

    private JsonElement _shared;

    [OneTimeSetUp]
    public void RunTheGuests()
    {
        _sharedStats = CliRun.TempFile([], "shared.json");
        var r = CliRun.InProcess(["run", "--count", "2", TestImages.Jos, "--append", "prog=dedupwork dedup.rounds=6", "-m", "32M",
            "--sharing", "all", "--deterministic", "--scan-rate", "5000000", "--stats", _sharedStats]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        _shared = JsonDocument.Parse(File.ReadAllText(_sharedStats)).RootElement.Clone();
        Assert.That(_shared.GetProperty("sharing").GetProperty("pages_shared").GetInt64(), Is.GreaterThan(0), "the guests shared frames");

        _plainStats = CliRun.TempFile([], "plain.json");
        r = CliRun.InProcess(["run", "--count", "2", TestImages.Jos, "--append", "prog=hello", "-m", "16M", "--deterministic",
            "--paging", "walk", "--stats", _plainStats]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
    }

    private static long Long(JsonElement e, params string[] path) => path.Aggregate(e, (x, p) => x.GetProperty(p)).GetInt64();

    private static double Double(JsonElement e, params string[] path) => path.Aggregate(e, (x, p) => x.GetProperty(p)).GetDouble();

    private JsonElement[] Guests => _shared.GetProperty("guests").EnumerateArray().ToArray();

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", Invariant) + "%";

    private static string Mips(JsonElement guest)
        => (Long(guest, "instructions") / Double(guest, "host_seconds") / 1e6).ToString("0.0", Invariant);

    private CliResult Report(params string[] options)
    {
        var r = CliRun.InProcess(["report", _sharedStats, .. options]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Error, Is.Empty);
        return r;
    }

    /// <summary>The cells of each table row of Spectre's output, trimmed, keyed by the first cell.</summary>
    private static Dictionary<string, string[]> TableRows(string output)
    {
        var rows = new Dictionary<string, string[]>();
        foreach (string line in output.Split('\n'))
        {
            string[] cells = line.Split('│');
            if (cells.Length < 4)
                continue;
            string[] inner = cells[1..^1].Select(c => c.Trim()).ToArray();
            rows.TryAdd(inner[0], inner);
        }

        return rows;
    }

    [Test]
    public void Table_ShowsTheFilesNumbers_WithoutEscapeCodesWhenRedirected()
    {
        string output = Report().Output;
        Assert.That(output, Does.Not.Contain("\u001b"), "no colors or styles into a StringWriter");
        var rows = TableRows(output);

        foreach (string key in new[] { "guest_frames_in_use", "machine_frames_in_use", "distinct_contents", "possible_saving", "achieved_saving" })
            Assert.That(rows[key][1], Is.EqualTo(Long(_shared, "memory", key).ToString(Invariant)), key);
        Assert.That(rows["efficiency"][1], Is.EqualTo(Percent(Double(_shared, "memory", "efficiency"))));

        foreach (string key in new[] { "pages_shared", "pages_sharing", "pages_unshared", "pages_volatile", "full_scans", "zero_pages",
                     "general_profit", "merges", "zero_merges", "cow_breaks", "zero_breaks", "bytes_saved", "frames_hashed", "hash_collisions" })
            Assert.That(rows[key][1], Is.EqualTo(Long(_shared, "sharing", key).ToString(Invariant)), key);
        Assert.That(rows["scan_seconds"][1], Is.EqualTo(Double(_shared, "sharing", "scan_seconds").ToString("0.000", Invariant)));

        JsonElement byContent = _shared.GetProperty("sharing").GetProperty("by_content");
        long counted = byContent.EnumerateObject().Sum(p => p.Value.GetInt64());
        foreach (string kind in RunReport.ContentKinds)
        {
            long frames = byContent.GetProperty(kind).GetInt64();
            Assert.That(rows[kind][1..], Is.EqualTo(new[] { frames.ToString(Invariant), Percent((double)frames / counted) }), kind);
        }

        foreach (JsonElement g in Guests)
        {
            string[] row = rows[g.GetProperty("name").GetString()!];
            Assert.That(row[1], Is.EqualTo(g.GetProperty("exit_reason").GetString()));
            Assert.That(row[3], Is.EqualTo(Long(g, "instructions").ToString(Invariant)));
            Assert.That(row[5], Is.EqualTo(Mips(g)), "MIPS = instructions / host_seconds / 1e6");
            Assert.That(row[6..9], Is.EqualTo(new[] { Long(g, "memory", "private_frames"), Long(g, "memory", "zero_frames"), Long(g, "memory", "shared_frames") }
                .Select(n => n.ToString(Invariant))));
            Assert.That(row[9], Is.EqualTo(Long(g, "sharing", "frames_on_stable").ToString(Invariant)));
            Assert.That(row[11], Is.EqualTo(Long(g, "sharing", "breaks").ToString(Invariant)));
            Assert.That(row[12], Is.EqualTo(Long(g, "shadow", "hidden_faults", "total").ToString(Invariant)));
            Assert.That(row[13], Is.EqualTo(Percent(Double(g, "shadow", "cr3_hit_rate"))));
        }

        Assert.That(rows["total"][3], Is.EqualTo(Guests.Sum(g => Long(g, "instructions")).ToString(Invariant)));
    }

    [Test]
    public void Json_IsAFlatSummary_WithTheFilesNumbers()
    {
        JsonNode json = JsonNode.Parse(Report("--format", "json").Output)!;
        Assert.That((string?)json["format"], Is.EqualTo("minihv-report"));
        Assert.That((long)json["guest_frames_in_use"]!, Is.EqualTo(Long(_shared, "memory", "guest_frames_in_use")));
        Assert.That((double)json["efficiency"]!, Is.EqualTo(Double(_shared, "memory", "efficiency")), "exact, not rounded");
        Assert.That((long)json["pages_sharing"]!, Is.EqualTo(Long(_shared, "sharing", "pages_sharing")));
        Assert.That((double)json["frames_hashed_per_second"]!, Is.EqualTo(Double(_shared, "sharing", "frames_hashed_per_second")));
        Assert.That((long)json["by_content"]!["kernel_text"]!, Is.EqualTo(Long(_shared, "sharing", "by_content", "kernel_text")));

        JsonArray guests = json["guests"]!.AsArray();
        Assert.That(guests, Has.Count.EqualTo(Guests.Length));
        for (int i = 0; i < guests.Count; i++)
        {
            Assert.That((string?)guests[i]!["name"], Is.EqualTo(Guests[i].GetProperty("name").GetString()));
            Assert.That((long)guests[i]!["instructions"]!, Is.EqualTo(Long(Guests[i], "instructions")));
            Assert.That((double)guests[i]!["mips"]!, Is.EqualTo(Long(Guests[i], "instructions") / Double(Guests[i], "host_seconds") / 1e6));
            Assert.That((long)guests[i]!["hidden_faults"]!, Is.EqualTo(Long(Guests[i], "shadow", "hidden_faults", "total")));
        }

        Assert.That((long)json["totals"]!["private_frames"]!, Is.EqualTo(Guests.Sum(g => Long(g, "memory", "private_frames"))));
    }

    /// <summary>An RFC 4180 reader: comma-separated fields, CRLF records, quoted fields with doubled quotes.</summary>
    private static List<string[]> ParseCsv(string text)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                    field.Append(text[++i]);
                else if (c == '"')
                    quoted = false;
                else
                    field.Append(c);
            }
            else if (c == '"')
            {
                Assert.That(field.Length, Is.EqualTo(0), "a quote opens a field, never sits inside an unquoted one");
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                records.Add(fields.ToArray());
                fields.Clear();
                i++;
            }
            else
            {
                Assert.That(c, Is.Not.EqualTo('\n'), "records end with CRLF");
                field.Append(c);
            }
        }

        Assert.That(quoted, Is.False, "every quoted field is closed");
        Assert.That(field.Length + fields.Count, Is.EqualTo(0), "the last record ends with CRLF");
        return records;
    }

    [Test]
    public void Csv_HasOneRowPerGuestAndATotalsRow_WithTheFilesNumbers()
    {
        List<string[]> records = ParseCsv(Report("--format", "csv").Output);
        string[] header = records[0];
        Assert.That(records, Has.Count.EqualTo(Guests.Length + 2));
        Assert.That(records.Select(r => r.Length), Has.All.EqualTo(header.Length));
        int Column(string name) => Array.IndexOf(header, name);
        for (int i = 0; i < Guests.Length; i++)
        {
            string[] row = records[i + 1];
            Assert.That(row[Column("name")], Is.EqualTo(Guests[i].GetProperty("name").GetString()));
            Assert.That(row[Column("command_line")], Is.EqualTo(Guests[i].GetProperty("command_line").GetString()));
            Assert.That(long.Parse(row[Column("instructions")], Invariant), Is.EqualTo(Long(Guests[i], "instructions")));
            Assert.That(double.Parse(row[Column("host_seconds")], Invariant), Is.EqualTo(Double(Guests[i], "host_seconds")));
            Assert.That(long.Parse(row[Column("frames_on_stable")], Invariant), Is.EqualTo(Long(Guests[i], "sharing", "frames_on_stable")));
            Assert.That(double.Parse(row[Column("cr3_hit_rate")], Invariant), Is.EqualTo(Double(Guests[i], "shadow", "cr3_hit_rate")));
        }

        string[] totals = records[^1];
        Assert.That(totals[Column("name")], Is.EqualTo("total"));
        Assert.That(long.Parse(totals[Column("breaks")], Invariant), Is.EqualTo(Guests.Sum(g => Long(g, "sharing", "breaks"))));
        Assert.That(double.Parse(totals[Column("host_seconds")], Invariant), Is.EqualTo(Double(_shared, "run", "host_seconds")), "the run's wall time");
    }

    [Test]
    public void Csv_QuotesCommasQuotesAndLineBreaks()
    {
        JsonNode stats = JsonNode.Parse(File.ReadAllText(_sharedStats))!;
        const string awkward = "jos.elf prog=dedupwork, \"quoted\"\nnext line";
        stats["guests"]![0]!["command_line"] = awkward;
        string path = CliRun.TempFile(System.Text.Encoding.UTF8.GetBytes(stats.ToJsonString()), "awkward.json");

        var r = CliRun.InProcess(["report", path, "--format", "csv"]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Output, Does.Contain("\"jos.elf prog=dedupwork, \"\"quoted\"\"\nnext line\""));
        List<string[]> records = ParseCsv(r.Output);
        Assert.That(records[1][Array.IndexOf(records[0], "command_line")], Is.EqualTo(awkward));
    }

    [Test]
    public void Markdown_HasATablePerSection_WithTheFilesNumbers()
    {
        string md = Report("--format", "markdown").Output;
        Assert.That(md, Does.StartWith("# minihv report"));
        Assert.That(md, Does.Contain($"| pages_shared | {Long(_shared, "sharing", "pages_shared")} |"));
        Assert.That(md, Does.Contain($"| machine_frames_in_use | {Long(_shared, "memory", "machine_frames_in_use")} |"));
        Assert.That(md, Does.Contain($"| efficiency | {Percent(Double(_shared, "memory", "efficiency"))} |"));
        JsonElement g = Guests[0];
        Assert.That(md, Does.Contain($"| {g.GetProperty("name").GetString()} | debug_exit | 1 | {Long(g, "instructions")} |"));
        Assert.That(md, Does.Contain($"| **total** |  |  | **{Guests.Sum(x => Long(x, "instructions"))}** |"));
        Assert.That(md.Split('\n').Where(l => l.StartsWith("| --- |", StringComparison.Ordinal)), Has.Exactly(6).Items, "six tables");
    }

    [Test]
    public void Html_IsOneSelfContainedPage_WithTheTableCellsAndTheChartInline()
    {
        string dir = Path.GetDirectoryName(CliRun.TempFile([]))!;
        string page = Path.Combine(dir, "report.html");
        string chart = Path.Combine(dir, "chart.svg");
        var r = Report("--format", "html", "--out", page, "--chart", chart);
        Assert.That(r.Output, Is.Empty, "--out takes the report off stdout");
        string html = File.ReadAllText(page);
        Assert.That(html, Does.StartWith("<!DOCTYPE html>"));
        Assert.That(html, Does.Contain("<style>"));
        Assert.That(html, Does.Not.Contain("<link").And.Not.Contain("<script").And.Not.Contain("src=\"http").And.Not.Contain("href=\"http"));
        Assert.That(html, Does.Contain($"<tr><td>pages_sharing</td><td class=\"num\">{Long(_shared, "sharing", "pages_sharing")}</td>"));
        Assert.That(html, Does.Contain($"<tr><td>distinct_contents</td><td class=\"num\">{Long(_shared, "memory", "distinct_contents")}</td>"));
        Assert.That(html, Does.Contain($"<td class=\"num\">{Long(Guests[1], "instructions")}</td>"));
        Assert.That(html, Does.Contain("<svg "), "the SVG is in the page, not linked");
        Assert.That(html, Does.Not.Contain("<?xml"));
    }

    [Test]
    public void Html_EmbedsAPngChartAsADataUri()
    {
        string dir = Path.GetDirectoryName(CliRun.TempFile([]))!;
        string html = Report("--format", "html", "--chart", Path.Combine(dir, "chart.png")).Output;
        Assert.That(html, Does.Contain("<img alt=").And.Contain("src=\"data:image/png;base64,"));
    }

    [Test]
    public void ChartSvg_IsAValidSvgDocument_OfTheMemoryOverTime()
    {
        string path = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([]))!, "chart.svg");
        Report("--chart", path);
        XDocument svg = XDocument.Load(path);
        Assert.That(svg.Root!.Name.LocalName, Is.EqualTo("svg"));
        Assert.That(svg.Root.Name.NamespaceName, Is.EqualTo("http://www.w3.org/2000/svg"));
        Assert.That(svg.Root.Attribute("height")!.Value, Is.EqualTo("900"), "memory over time on top, the bars below");
        string text = string.Concat(svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
        Assert.That(text, Does.Contain("machine frames in use").And.Contain("distinct contents").And.Contain("kernel_text").And.Contain("jos-2"));
    }

    /// <summary>A PNG's width and height, from its IHDR chunk (big-endian, right after the signature and the chunk header).</summary>
    private static (int Width, int Height) PngSize(byte[] png)
        => (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Test]
    public void ChartPng_IsARealPng()
    {
        string path = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([]))!, "chart.png");
        Report("--chart", path, "--chart-x", "full_scans");
        byte[] png = File.ReadAllBytes(path);
        Assert.That(png[..8], Is.EqualTo(PngSignature));
        Assert.That(png.Length, Is.GreaterThan(20_000), "three plots with text, not an empty image");
        Assert.That(PngSize(png), Is.EqualTo((1200, 900)));
    }

    [Test]
    public void WithoutSharing_SectionsSaySo_AndTheChartStillHasThePerGuestBars()
    {
        string chart = Path.Combine(Path.GetDirectoryName(CliRun.TempFile([]))!, "plain.png");
        var r = CliRun.InProcess(["report", _plainStats, "--chart", chart]);
        Assert.That(r.Status, Is.EqualTo(0), r.ToString);
        Assert.That(r.Output, Does.Contain("Sharing (Linux KSM's counters): not in this run"));
        Assert.That(r.Output, Does.Contain("every guest ran on the plain walk"));
        Assert.That(TableRows(r.Output), Does.Not.ContainKey("pages_shared"));
        byte[] png = File.ReadAllBytes(chart);
        Assert.That(png[..8], Is.EqualTo(PngSignature));
        Assert.That(PngSize(png), Is.EqualTo((1200, 450)), "no samples: only the guests' bars");

        JsonNode json = JsonNode.Parse(CliRun.InProcess(["report", _plainStats, "-f", "json"]).Output)!;
        Assert.That((string?)json["sharing_policy"], Is.EqualTo("off"));
        Assert.That(json.AsObject().ContainsKey("pages_shared"), Is.True, "the key is there");
        Assert.That(json["pages_shared"], Is.Null, "its value null");
        Assert.That(json["guests"]![0]!["cr3_hit_rate"], Is.Null, "no shadow counters on the plain walk");
    }

    /// <summary>The statistics file, edited by <paramref name="edit"/>, in a file of its own.</summary>
    private string Edited(Action<JsonObject> edit)
    {
        JsonObject stats = JsonNode.Parse(File.ReadAllText(_sharedStats))!.AsObject();
        edit(stats);
        return CliRun.TempFile(System.Text.Encoding.UTF8.GetBytes(stats.ToJsonString()), "edited.json");
    }

    private static void AssertOneLineError(CliResult r, string part)
    {
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(part));
        Assert.That(r.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.ToString);
        Assert.That(r.Output, Is.Empty);
    }

    [Test]
    public void VersionTooNew_IsRefused()
        => AssertOneLineError(CliRun.InProcess(["report", Edited(s => s["version"] = 2)]), "version 2 is newer than this minihv reads (version 1)");

    [Test]
    public void VersionTooOld_IsRefused()
        => AssertOneLineError(CliRun.InProcess(["report", Edited(s => s["version"] = 0)]), "version 0 is older than this minihv reads (version 1)");

    [Test]
    public void AnotherFormat_IsRefused()
        => AssertOneLineError(CliRun.InProcess(["report", Edited(s => s["format"] = "ksm-sysfs")]), "a file of format \"ksm-sysfs\", not \"minihv-stats\"");

    [Test]
    public void JsonWithoutAFormat_IsRefused()
        => AssertOneLineError(CliRun.InProcess(["report", CliRun.TempFile("[1, 2, 3]"u8.ToArray(), "array.json")]), "not a minihv statistics file");

    [Test]
    public void NotJson_SaysWhereItBreaks()
    {
        string[] lines = File.ReadAllLines(_sharedStats);
        lines[6] = lines[6].Replace("\"", "", StringComparison.Ordinal);   // line 7: an unquoted key
        string path = CliRun.TempFile(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines)), "broken.json");
        AssertOneLineError(CliRun.InProcess(["report", path]), "not JSON (line 7, column 5)");
    }

    [Test]
    public void AMissingMember_IsNamed()
        => AssertOneLineError(CliRun.InProcess(["report", Edited(s => s["memory"]!.AsObject().Remove("distinct_contents"))]), "'distinct_contents'");

    [Test]
    public void MissingFile_IsNamed()
        => AssertOneLineError(CliRun.InProcess(["report", "/no/such/stats.json"]), "/no/such/stats.json: no such file");

    [TestCase("--chart x.jpg", "--chart 'x.jpg': the file must end in .svg or .png")]
    [TestCase("--out /no/such/dir/report.txt", "--out '/no/such/dir/report.txt'")]
    [TestCase("--chart /no/such/dir/chart.svg", "--chart '/no/such/dir/chart.svg'")]
    public void BadOutput_GivesAClearMessage_AndStatus2(string options, string part)
    {
        var r = CliRun.InProcess(["report", _sharedStats, .. options.Split(' ')]);
        Assert.That(r.Status, Is.EqualTo(2), r.ToString);
        CliRun.AssertCleanError(r);
        Assert.That(r.Error, Does.Contain(part));
    }

    [TestCase("plain", "plain")]
    [TestCase("a,b", "\"a,b\"")]
    [TestCase("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [TestCase("two\r\nlines", "\"two\r\nlines\"")]
    [TestCase("", "")]
    public void CsvField_QuotesOnlyWhatRfc4180Needs(string value, string field)
        => Assert.That(CsvReport.Field(value), Is.EqualTo(field));
}

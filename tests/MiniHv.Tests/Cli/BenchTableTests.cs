using MiniHv.Cli.Bench;

namespace MiniHv.Tests.Cli;

/// <summary>The bench table's "vs baseline" column: a baseline row's median, or the median of per-run pairs when a row has a baseline measured beside each run.</summary>
public class BenchTableTests
{
    private static string Table(params BenchResult[] rows)
    {
        var output = new StringWriter();
        BenchTable.Write(output, rows, "a test machine");
        return output.ToString();
    }

    [Test]
    public void RowWithABaselineBesideEachRun_ShowsTheMedianOfThePerRunRatios()
    {
        // Per pair: 10/20, 100/100, 30/100, so 0.50x; the medians' ratio would be 30/100.
        string table = Table(new BenchResult("kernel row", "MIPS", [10, 100, 30], Baseline: "alu loop beside it", Paired: [20, 100, 100]));

        Assert.That(table, Does.Contain("0.50x alu loop beside it"));
        Assert.That(table, Does.Not.Contain("0.30x"));
    }

    [Test]
    public void RowWithABaselineRow_ShowsTheRatioOfTheMedians()
    {
        string table = Table(
            new BenchResult("baseline: alu loop (in a VM)", "MIPS", [200, 100, 300]),
            new BenchResult("kernel row", "MIPS", [50, 150, 100], Baseline: "baseline: alu loop (in a VM)"));

        Assert.That(table, Does.Contain("0.50x alu loop (in a VM)"));
    }
}

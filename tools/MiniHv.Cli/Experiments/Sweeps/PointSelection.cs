using System.Globalization;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>Which points of a sweep one run takes: all, a shard (<c>--shard K/N</c>) or named ones (<c>--points ID,...</c>).</summary>
internal sealed record PointSelection(int Shard, int Shards, IReadOnlyList<string>? Ids)
{
    public static readonly PointSelection All = new(0, 1, null);

    /// <summary>True if the run takes the whole sweep, so it ends with the outputs rather than with part of the results.</summary>
    public bool IsWhole => Shards == 1 && Ids == null;

    /// <summary>Parses <c>K/N</c>: the points whose position in the sweep modulo N is K, K from 0 to N - 1.</summary>
    /// <exception cref="FormatException">Not K/N with 0 &lt;= K &lt; N.</exception>
    public static PointSelection ParseShard(string text)
    {
        string[] parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            || n < 1 || k >= n)
            throw new FormatException($"'{text}': K/N, N shards numbered from 0 to N - 1 (e.g. 0/4)");
        return new PointSelection(k, n, null);
    }

    /// <summary>Parses <c>ID,ID,...</c>.</summary>
    public static PointSelection ParseIds(string text)
    {
        var ids = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (ids.Count == 0)
            throw new FormatException("no point ids: give a comma-separated list (--list-points prints them)");
        return new PointSelection(0, 1, ids);
    }

    /// <summary>The positions of the selected points, in the sweep's order.</summary>
    /// <exception cref="FormatException">An id the sweep does not have.</exception>
    public List<int> Apply(IReadOnlyList<SweepPointInfo> points)
    {
        if (Ids != null)
        {
            var known = points.Select((p, i) => (p.Id, i)).ToDictionary(p => p.Id, p => p.i);
            var unknown = Ids.Where(id => !known.ContainsKey(id)).ToList();
            if (unknown.Count > 0)
                throw new FormatException($"no point {string.Join(", ", unknown)} in this sweep (--list-points prints its ids)");
            return Ids.Select(id => known[id]).Order().ToList();
        }

        return Enumerable.Range(0, points.Count).Where(i => i % Shards == Shard).ToList();
    }
}

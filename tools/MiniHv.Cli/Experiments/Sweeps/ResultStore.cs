using System.Diagnostics;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>
/// A sweep's results directory (<c>--out</c>): sweep.json, and under points/ one file per point that ended, written
/// atomically (a temporary file renamed into place), so a sweep killed at any moment leaves every point either
/// wholly recorded or not at all, and a run started again with the same directory takes up where it stopped.
/// Shards may share one directory: each writes only its own points, and the same sweep.json.
/// </summary>
internal sealed class ResultStore
{
    private const string PointsFolder = "points";

    private ResultStore(string dir, SweepManifest manifest)
    {
        Dir = dir;
        Manifest = manifest;
    }

    public string Dir { get; }

    public SweepManifest Manifest { get; }

    private string PointsDir => Path.Combine(Dir, PointsFolder);

    /// <summary>The directory for <paramref name="sweep"/>'s results, created if need be.</summary>
    /// <exception cref="FormatException">It holds the results of another sweep.</exception>
    public static ResultStore Open(string dir, ISweep sweep)
    {
        var manifest = SweepManifest.Of(sweep);
        string path = Path.Combine(dir, SweepManifest.FileName);
        if (File.Exists(path))
        {
            SweepManifest there = SweepManifest.Parse(File.ReadAllText(path), path);
            if (there.SweepId != manifest.SweepId)
                throw new FormatException($"it holds the results of {there.Describe()}, not of this {manifest.Describe()}: give another --out");
            manifest = there;
        }

        var store = new ResultStore(dir, manifest);
        Directory.CreateDirectory(store.PointsDir);
        if (!File.Exists(path))
            WriteAtomically(path, manifest.ToJson());
        store.RemoveStaleTemporaries();
        return store;
    }

    /// <summary>The results directory of a sweep that ran (or began to).</summary>
    /// <exception cref="FormatException">It is not one: no sweep.json, or not a valid one.</exception>
    public static ResultStore Read(string dir)
    {
        string path = Path.Combine(dir, SweepManifest.FileName);
        if (!File.Exists(path))
            throw new FormatException($"{dir}: no {SweepManifest.FileName}: not the --out of a minihv experiment");
        return new ResultStore(dir, SweepManifest.Parse(File.ReadAllText(path), path));
    }

    /// <summary>Every point recorded here, by id.</summary>
    /// <exception cref="FormatException">A point file is damaged or belongs to another sweep.</exception>
    public Dictionary<string, PointRecord> Load()
    {
        var records = new Dictionary<string, PointRecord>();
        if (!Directory.Exists(PointsDir))
            return records;
        foreach (string file in Directory.GetFiles(PointsDir, "*.json").Order(StringComparer.Ordinal))
        {
            PointRecord r = PointRecord.Parse(File.ReadAllBytes(file), file);
            if (r.SweepId != Manifest.SweepId)
                throw new FormatException($"{file}: a point of sweep {r.SweepId}, in the results of {Manifest.Describe()}");
            if (Path.GetFileNameWithoutExtension(file) != r.Id)
                throw new FormatException($"{file}: holds point {r.Id}");
            records[r.Id] = r;
        }

        return records;
    }

    /// <summary>Records one point; a later record of the same point (a retry) replaces it.</summary>
    public void Write(PointRecord record) => WriteAtomically(Path.Combine(PointsDir, record.Id + ".json"), record.ToJson());

    /// <summary>Writes a file whole or not at all: into a temporary file named for this host and process, flushed to disk, then renamed over the name.</summary>
    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}~{Environment.MachineName}~{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Removes what killed runs on this host left half written; another live process's (a shard sharing the directory) stays.</summary>
    private void RemoveStaleTemporaries()
    {
        foreach (string file in Directory.GetFiles(PointsDir, ".*.tmp"))
        {
            string[] parts = Path.GetFileNameWithoutExtension(file).Split('~');
            if (parts.Length == 3 && parts[1] == Environment.MachineName && int.TryParse(parts[2], out int pid) && !IsRunning(pid))
                File.Delete(file);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

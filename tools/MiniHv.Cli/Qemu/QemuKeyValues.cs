namespace MiniHv.Cli.Qemu;

/// <summary>
/// An option value in QEMU's syntax, <c>[VALUE,]key=value,key=value</c>: a doubled comma is a comma inside a
/// value, and a first part without '=' is the value of the option's implied key (<c>-smp 2</c> is <c>cpus=2</c>).
/// </summary>
internal sealed class QemuKeyValues
{
    private readonly List<KeyValuePair<string, string>> _pairs;

    private QemuKeyValues(List<KeyValuePair<string, string>> pairs) => _pairs = pairs;

    /// <summary>The pairs in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Pairs => _pairs;

    /// <param name="impliedKey">The key of a first part without '=', or null when every part must be key=value.</param>
    public static bool TryParse(string text, string? impliedKey, out QemuKeyValues? values, out string error)
    {
        values = null;
        error = "";
        var pairs = new List<KeyValuePair<string, string>>();
        List<string> parts = Commands.GuestSpec.SplitOnSingleCommas(text);
        for (int i = 0; i < parts.Count; i++)
        {
            string part = parts[i];
            int eq = part.IndexOf('=');
            if (eq < 0 && i == 0 && impliedKey != null)
            {
                pairs.Add(new(impliedKey, part));
                continue;
            }

            if (eq <= 0)
            {
                error = part.Length == 0 ? "an empty part between commas" : $"'{part}' is not key=value";
                return false;
            }

            pairs.Add(new(part[..eq], part[(eq + 1)..]));
        }

        values = new QemuKeyValues(pairs);
        return true;
    }

    /// <summary>The last value given for <paramref name="key"/> (QEMU lets a later one win), or null.</summary>
    public string? Get(string key)
    {
        string? found = null;
        foreach (var pair in _pairs)
        {
            if (pair.Key == key)
                found = pair.Value;
        }

        return found;
    }

    /// <summary>The first key not among <paramref name="known"/>, or null when all are.</summary>
    public string? FirstUnknownKey(params string[] known) => _pairs.Select(p => p.Key).FirstOrDefault(k => !known.Contains(k));

}

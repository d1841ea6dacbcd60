namespace MiniHv.Cli.Commands;

/// <summary>
/// One guest as <c>--guest IMAGE[,append=TEXT][,initrd=FILE][,system-map=FILE][,memory=SIZE][,smp=N][,name=NAME][,salt=GROUP][,shares=N][,cap=SIZE][,hda=FILE][,hdb=FILE][,snapshot]</c>
/// describes it, or without IMAGE a guest that boots from its <c>hda</c>. As in QEMU's option syntax, a doubled comma
/// stands for a comma inside a value.
/// </summary>
internal sealed record GuestSpec(string? Image, string? Append, long? MemoryBytes, string? Name, string? Salt = null, long? CapBytes = null,
    string? Hda = null, string? Hdb = null, bool? Snapshot = null, string? Initrd = null, int? Processors = null, string? SystemMap = null,
    long? Shares = null)
{
    private const string Keys = "append, initrd, system-map, memory, smp, name, salt, shares, cap, hda, hdb, snapshot";

    /// <summary>What a shares value must be, for error messages.</summary>
    public const string SharesRule = "a whole number from 1 to 1000000 (ESX's memory shares; the default is 10 per MiB of the guest's RAM)";

    /// <summary>A guest's memory shares (<c>shares=N</c>, config key <c>shares</c>).</summary>
    public static bool TryParseShares(string value, out long shares)
        => long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out shares)
            && shares is >= 1 and <= 1_000_000;

    public static bool TryParse(string text, out GuestSpec? spec, out string error)
    {
        spec = null;
        List<string> parts = SplitOnSingleCommas(text);
        bool hasImage = parts.Count > 0 && !parts[0].Contains('=');
        if (parts.Count == 0 || parts[0].Length == 0)
        {
            error = $"--guest '{text}': starts with the image path (or hda=FILE to boot from a disk), then key=value pairs ({Keys})";
            return false;
        }

        string? append = null, name = null, salt = null, hda = null, hdb = null, initrd = null, systemMap = null;
        long? memory = null, cap = null, shares = null;
        int? processors = null;
        bool? snapshot = null;
        foreach (string part in parts.Skip(hasImage ? 1 : 0))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq];
            string value = eq < 0 ? "" : part[(eq + 1)..];
            switch (key)
            {
                case "append":
                    append = value;
                    break;
                case "name" when IsValidName(value):
                    name = value;
                    break;
                case "name":
                    error = $"--guest '{text}': a name is letters, digits, '-', '_' and '.'";
                    return false;
                case "cap":
                    if (!SizeParser.TryParse(value, out long capBytes, out string capError) || capBytes < 4096)
                    {
                        error = $"--guest '{text}': cap '{value}': {(capError.Length > 0 ? capError : "at least one 4 KiB frame")}";
                        return false;
                    }

                    cap = capBytes;
                    break;
                case "salt":
                    salt = value;
                    break;
                case "shares":
                    if (!TryParseShares(value, out long n0))
                    {
                        error = $"--guest '{text}': shares '{value}': {SharesRule}";
                        return false;
                    }

                    shares = n0;
                    break;
                case "memory":
                    if (!CommonOptions.TryParseGuestMemory(value, out long bytes, out string why))
                    {
                        error = $"--guest '{text}': {why}";
                        return false;
                    }

                    memory = bytes;
                    break;
                case "smp":
                    if (!SmpSpec.TryParse(value, out int n, out string smpError))
                    {
                        error = $"--guest '{text}': {smpError}";
                        return false;
                    }

                    processors = n;
                    break;
                case "initrd" when value.Length == 0:
                    error = $"--guest '{text}': initrd needs a file (initrd=FILE)";
                    return false;
                case "initrd":
                    initrd = value;
                    break;
                case "system-map" when value.Length == 0:
                    error = $"--guest '{text}': system-map needs a file (system-map=FILE, the kernel's System.map)";
                    return false;
                case "system-map":
                    systemMap = value;
                    break;
                case "hda" or "hdb" when value.Length == 0:
                    error = $"--guest '{text}': {key} needs a disk image file ({key}=FILE)";
                    return false;
                case "hda":
                    hda = value;
                    break;
                case "hdb":
                    hdb = value;
                    break;
                case "snapshot" when eq < 0 || value is "on" or "true":
                    snapshot = true;
                    break;
                case "snapshot" when value is "off" or "false":
                    snapshot = false;
                    break;
                case "snapshot":
                    error = $"--guest '{text}': snapshot is on or off";
                    return false;
                default:
                    error = $"--guest '{text}': unknown key '{key}' ({Keys})";
                    return false;
            }
        }

        if (!hasImage && hda == null)
        {
            error = $"--guest '{text}': starts with the image path, or has hda=FILE to boot from a disk";
            return false;
        }

        spec = new GuestSpec(hasImage ? parts[0] : null, append, memory, name, salt, cap, hda, hdb, snapshot, initrd, processors, systemMap, shares);
        error = "";
        return true;
    }

    /// <summary>A guest name: letters, digits, '-', '_' and '.', so that it is also a file name for --serial-dir.</summary>
    public static bool IsValidName(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Splits QEMU-style key=value lists on single commas; a doubled comma is one comma of the value.</summary>
    internal static List<string> SplitOnSingleCommas(string text)
    {
        var parts = new List<string>();
        var current = new System.Text.StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != ',')
            {
                current.Append(text[i]);
            }
            else if (i + 1 < text.Length && text[i + 1] == ',')
            {
                current.Append(',');
                i++;
            }
            else
            {
                parts.Add(current.ToString());
                current.Clear();
            }
        }

        parts.Add(current.ToString());
        return parts;
    }
}

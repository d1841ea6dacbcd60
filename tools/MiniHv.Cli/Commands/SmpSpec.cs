using System.Globalization;
using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Commands;

/// <summary>
/// A processor count as QEMU's <c>-smp</c> spells it: <c>N</c>, or <c>[cpus=]N</c> with <c>sockets=</c>, <c>cores=</c>,
/// <c>threads=</c> and <c>maxcpus=</c>. The topology keys are accepted and ignored (the MP table lists plain
/// processors) as long as they multiply to N; without N their product is N. CPU hot-plug is not offered, so
/// <c>maxcpus</c> must be N.
/// </summary>
internal static class SmpSpec
{
    public static bool TryParse(string text, out int processors, out string error)
    {
        processors = 0;
        int? count = null, maxCpus = null;
        int product = 1;
        bool topology = false;
        List<string> parts = GuestSpec.SplitOnSingleCommas(text);
        for (int i = 0; i < parts.Count; i++)
        {
            string part = parts[i];
            int eq = part.IndexOf('=');
            string key = eq < 0 ? (i == 0 ? "cpus" : part) : part[..eq];
            string value = eq < 0 ? part : part[(eq + 1)..];
            if (key is not ("cpus" or "sockets" or "cores" or "threads" or "maxcpus"))
            {
                error = $"-smp '{text}': unknown key '{key}' (N, or cpus=, sockets=, cores=, threads=, maxcpus=)";
                return false;
            }

            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
            {
                error = $"-smp '{text}': {key} must be a positive whole number, not '{value}'";
                return false;
            }

            switch (key)
            {
                case "cpus":
                    count = n;
                    break;
                case "maxcpus":
                    maxCpus = n;
                    break;
                default:
                    topology = true;
                    product = (int)Math.Min((long)product * n, int.MaxValue);
                    break;
            }
        }

        processors = count ?? product;
        if (topology && product != processors)
        {
            error = $"-smp '{text}': sockets x cores x threads is {product}, not the {processors} processors asked for";
            return false;
        }

        if (processors > VmConfig.MaxProcessors)
        {
            error = $"-smp '{text}': a guest has at most {VmConfig.MaxProcessors} processors";
            return false;
        }

        if (maxCpus is int max && max != processors)
        {
            error = $"-smp '{text}': maxcpus must be the processor count ({processors}): MiniHv has no CPU hot-plug";
            return false;
        }

        error = "";
        return true;
    }
}

using System.Globalization;
using System.Net;

namespace MiniHv.Cli.Debugging;

/// <summary>What <c>--gdb</c>, <c>-s</c>, <c>-S</c> and <c>--gdb-guest</c> ask for: where the stub listens, whether the guest waits for gdb, and which guest.</summary>
/// <param name="Endpoint">The address and port to listen on (port 0: any free port, announced on stderr).</param>
/// <param name="Freeze">Hold the guest before its first instruction until gdb continues it (QEMU's -S).</param>
/// <param name="Guest">The guest to debug, by name; null for the first.</param>
internal sealed record GdbPlan(IPEndPoint Endpoint, bool Freeze, string? Guest)
{
    /// <summary>QEMU's -s: tcp::1234.</summary>
    public const int DefaultPort = 1234;

    /// <summary>
    /// Parses QEMU's spelling: <c>tcp::PORT</c> (127.0.0.1 only) or <c>tcp:ADDRESS:PORT</c>, ADDRESS an IPv4
    /// address or <c>localhost</c>.
    /// </summary>
    public static bool TryParseEndpoint(string spec, out IPEndPoint? endpoint, out string error)
    {
        endpoint = null;
        error = $"--gdb '{spec}': expected tcp::PORT or tcp:ADDRESS:PORT (as QEMU's -gdb), e.g. tcp::1234";
        if (!spec.StartsWith("tcp:", StringComparison.Ordinal))
            return false;
        string rest = spec["tcp:".Length..];
        int colon = rest.LastIndexOf(':');
        if (colon < 0)
            return false;
        string host = rest[..colon], portText = rest[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = $"--gdb '{spec}': port '{portText}' is not a number from 0 to 65535";
            return false;
        }

        IPAddress? address = host switch
        {
            "" or "localhost" => IPAddress.Loopback,
            _ when IPAddress.TryParse(host, out IPAddress? a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork => a,
            _ => null,
        };
        if (address == null)
        {
            error = $"--gdb '{spec}': '{host}' is not an IPv4 address";
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}

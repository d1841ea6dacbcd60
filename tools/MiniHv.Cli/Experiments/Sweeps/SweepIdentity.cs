using System.Security.Cryptography;
using System.Text;

namespace MiniHv.Cli.Experiments.Sweeps;

/// <summary>The id of a sweep: a hash of a canonical text of its config, so two shards are of one sweep exactly when their runs are.</summary>
internal static class SweepIdentity
{
    /// <summary>The first 16 hex digits of the SHA-256 of the experiment's name and <paramref name="canonical"/>.</summary>
    public static string Of(string experiment, string canonical)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{experiment}\n{canonical}"));
        return Convert.ToHexStringLower(hash)[..16];
    }
}

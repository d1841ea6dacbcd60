namespace MiniHv.Hv.Overcommit;

/// <summary>One guest as the balloon policy sees it.</summary>
/// <param name="Shares">Its share of the machine (ESX's shares); equal for equal guests.</param>
/// <param name="Frames">The machine frames it holds of its own now (its private frames).</param>
/// <param name="ActiveFraction">The part of those it used lately, 0 to 1 (<see cref="IdleMemorySampler"/>).</param>
/// <param name="Target">Its balloon's target now, in frames.</param>
/// <param name="MaxTarget">The most its balloon may be asked to hold.</param>
public readonly record struct BalloonClient(long Shares, long Frames, double ActiveFraction, long Target, long MaxTarget);

/// <summary>
/// Which guests' balloons grow when the machine needs frames, and which shrink when it has frames to spare:
/// proportional share with an idle-memory tax, after Waldspurger (OSDI 2002, "Memory Resource Management in
/// VMware ESX Server", section 5). Each guest's shares-per-frame ratio is S / (P (f + k (1 - f))), with P its
/// frames, f the active part of them and k = 1 / (1 - tax) the cost of an idle frame; the guest with the lowest
/// ratio gives the next frames, and the one with the highest gets frames back first. With no idle frames this
/// is plain proportional share; with the default 75% tax an idle frame costs four active ones, so a guest
/// hoarding idle memory gives before one using what it holds.
/// </summary>
public static class BalloonPolicy
{
    /// <summary>ESX's default idle-memory tax rate.</summary>
    public const double DefaultTaxRate = 0.75;

    /// <summary>Frames moved at each step of the allocation: small enough to follow the ratios closely, few steps in all.</summary>
    private const int Steps = 256;

    /// <summary>
    /// The balloon targets that take <paramref name="frames"/> more frames from <paramref name="clients"/> (positive),
    /// or give that many back (negative), one target per client in order. Less is taken when every balloon is at its
    /// most, less given back when every target is zero.
    /// </summary>
    public static long[] Retarget(IReadOnlyList<BalloonClient> clients, long frames, double taxRate = DefaultTaxRate)
    {
        ArgumentNullException.ThrowIfNull(clients);
        if (taxRate is < 0 or >= 1 || double.IsNaN(taxRate))
            throw new ArgumentOutOfRangeException(nameof(taxRate), taxRate, "the idle-memory tax rate is from 0 up to (not including) 1");
        double idleCost = 1 / (1 - taxRate);
        long[] targets = clients.Select(c => c.Target).ToArray();
        long[] held = clients.Select(c => Math.Max(0, c.Frames)).ToArray();
        double[] active = clients.Select(c => Math.Clamp(c.ActiveFraction, 0, 1) * Math.Max(0, c.Frames)).ToArray();
        long left = Math.Abs(frames);
        long step = Math.Max(1, left / Steps);
        bool taking = frames > 0;
        while (left > 0)
        {
            int chosen = -1;
            double best = 0;
            for (int i = 0; i < clients.Count; i++)
            {
                bool room = taking ? targets[i] < clients[i].MaxTarget && held[i] > 0 : targets[i] > 0;
                if (!room || clients[i].Shares <= 0)
                    continue;
                double used = Math.Min(active[i], held[i]);
                double cost = used + idleCost * (held[i] - used);
                double ratio = cost <= 0 ? double.PositiveInfinity : clients[i].Shares / cost;
                if (chosen < 0 || (taking ? ratio < best : ratio > best))
                {
                    chosen = i;
                    best = ratio;
                }
            }

            if (chosen < 0)
                break;
            long room2 = taking ? Math.Min(clients[chosen].MaxTarget - targets[chosen], held[chosen]) : targets[chosen];
            long moved = Math.Min(Math.Min(step, left), room2);
            targets[chosen] += taking ? moved : -moved;
            // The balloon takes idle frames first (the guest's free pages), and frames given back start idle.
            held[chosen] += taking ? -moved : moved;
            left -= moved;
        }

        return targets;
    }
}

using MiniHv.Cpu;
using Serilog;

namespace MiniHv.Hv.Faults;

/// <summary>
/// One guest's fault log: every fault counted, the recent ones kept in a ring, and those the policy picks
/// written to Serilog as one structured event each. Its <c>On...</c> methods run on the guest's thread (the
/// CPU's fault observer, the hypervisor's fault paths); the counters and the ring may be read from anywhere.
/// </summary>
/// <remarks>
/// An exception the guest sees is always kept in the ring, since the last ones explain a triple fault; unless it
/// is written to the log it is kept as values and built (disassembled) only when the ring is read, since a kernel
/// that backs memory on demand takes thousands a second. A hidden fault can come millions of times a second, so
/// it costs two counter updates unless the policy picks it; only then is it built, kept and logged.
/// </remarks>
public sealed class FaultLog
{
    /// <summary>Events the ring keeps unless told otherwise.</summary>
    public const int DefaultRingCapacity = 64;

    private readonly FaultEventBuilder _builder;
    private readonly ILogger _logger;
    private readonly FaultSampler[] _samplers;

    /// <param name="builder">Makes this guest's events.</param>
    /// <param name="logger">Where picked events go (see <see cref="FaultLogEvents"/> for their properties).</param>
    /// <param name="policy">Which events to log; <see cref="FaultLogPolicy.Default"/> when null. Read once, here.</param>
    /// <param name="ringCapacity">How many recent events <see cref="Recent"/> keeps.</param>
    /// <param name="time">The clock of per-second sampling; the system's when null.</param>
    public FaultLog(FaultEventBuilder builder, ILogger logger, FaultLogPolicy? policy = null, int ringCapacity = DefaultRingCapacity,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(logger);
        _builder = builder;
        _logger = logger;
        policy ??= FaultLogPolicy.Default;
        time ??= TimeProvider.System;
        _samplers = FaultKinds.All.Select(k => new FaultSampler(policy.For(k), time)).ToArray();
        Recent = new FaultRing(ringCapacity, builder);
    }

    /// <summary>A log for guest <paramref name="guest"/>, reading its instructions through <paramref name="read"/>.</summary>
    public FaultLog(string guest, int guestId, GuestLinearReader read, ILogger logger, FaultLogPolicy? policy = null,
        DisassemblySyntax syntax = DisassemblySyntax.Gas, int processors = 1)
        : this(new FaultEventBuilder(guest, guestId, read, syntax, processors), logger, policy)
    {
    }

    /// <summary>Every fault, counted by kind.</summary>
    public FaultCounters Counters { get; } = new();

    /// <summary>The last events built, oldest first in a snapshot.</summary>
    public FaultRing Recent { get; }

    /// <summary>
    /// An exception the CPU is about to deliver to the guest: call from <c>Cpu.FaultObserver</c>. Returns the
    /// event when it was written to the log; null when it was only counted and kept, or when the record is an
    /// interrupt or system call (vector 32 and up), which is not counted. A kept exception is captured as values
    /// (its instruction's bytes read now) and built when <see cref="Recent"/> is read, so it allocates nothing.
    /// </summary>
    /// <param name="record">The CPU's record.</param>
    /// <param name="instructions">Guest instructions retired.</param>
    /// <param name="codeSegmentBase">CS's base (0 when flat).</param>
    /// <param name="bitness">32, or 16 for a 16-bit code segment.</param>
    public FaultEvent? OnException(in FaultRecord record, long instructions, uint codeSegmentBase = 0, int bitness = 32)
    {
        if (FaultKinds.FromVector(record.Vector) is not FaultKind kind)
            return null;
        long ordinal = Counters.Count(kind, record.Vector);
        if (_samplers[(int)kind].Admit())
        {
            Counters.CountLogged(kind);
            if (_logger.IsEnabled(FaultLogEvents.LevelOf(kind)))
            {
                FaultEvent e = _builder.FromRecord(record, instructions, ordinal, codeSegmentBase, bitness)!;
                Recent.Add(e);
                FaultLogEvents.Write(_logger, e);
                return e;
            }
        }

        Recent.AddCaptured(record, instructions, ordinal, codeSegmentBase, bitness);
        return null;
    }

    /// <summary>
    /// The CPU shut down (<c>StopReason.TripleFault</c>): <paramref name="last"/> is <c>Cpu.LastFault</c>, the
    /// fault it could not deliver. Its vector was counted already when the observer saw it.
    /// </summary>
    public FaultEvent OnTripleFault(in FaultRecord last, long instructions, uint codeSegmentBase = 0, int bitness = 32)
    {
        long ordinal = Counters.Count(FaultKind.TripleFault, null);
        FaultEvent e = _builder.TripleFault(last, instructions, ordinal, codeSegmentBase, bitness);
        Keep(e);
        return e;
    }

    /// <summary>
    /// A hidden fault the hypervisor resolved. Always counted; built, kept and logged only when the policy
    /// picks it, and then returned (null otherwise).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a hidden kind.</exception>
    public FaultEvent? OnHiddenFault(FaultKind kind, in HiddenFaultSite site, int bitness = 32)
    {
        if (!FaultKinds.IsHidden(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a hidden fault kind");
        long ordinal = Counters.Count(kind, null);
        if (!_samplers[(int)kind].Admit())
            return null;
        FaultEvent e = _builder.Hidden(kind, site, ordinal, bitness);
        Recent.Add(e);
        Log(e);
        return e;
    }

    private void Keep(FaultEvent e)
    {
        Recent.Add(e);
        if (_samplers[(int)e.Kind].Admit())
            Log(e);
    }

    private void Log(FaultEvent e)
    {
        Counters.CountLogged(e.Kind);
        FaultLogEvents.Write(_logger, e);
    }
}

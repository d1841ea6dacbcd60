using System.Text;

namespace MiniHv.Hv.Inspection;

/// <summary>
/// The lines of a page-table dump: column layout, and the indented lines of mapped pages gathered into runs whose
/// virtual and physical addresses both follow on, whose flags are equal and whose guest frames have the same
/// backing. Shared by the two-level dump (<see cref="PageTableDump"/>) and the PAE one (<see cref="PaePageTableDump"/>).
/// </summary>
internal sealed class PageRunWriter
{
    public const ulong SmallPage = 1 << 12;

    private readonly StringBuilder _text;
    private readonly Func<uint, FrameBacking> _backing;
    private readonly Func<ulong, string> _flagText;

    // The run of pages being gathered for one indented line.
    private bool _inRun;
    private ulong _runVirtual;
    private ulong _runPhysical;
    private ulong _runBytes;
    private ulong _runFlags;
    private FrameBacking _runBacking;

    /// <param name="flagText">The flag column of an entry's flags.</param>
    public PageRunWriter(StringBuilder text, Func<uint, FrameBacking> backing, Func<ulong, string> flagText)
    {
        _text = text;
        _backing = backing;
        _flagText = flagText;
    }

    /// <summary>Extend the current run with one 4 KiB page, or end it and start another. A page at or above 4 GiB is "not RAM".</summary>
    public void AddPage(ulong linear, ulong physical, ulong flags)
    {
        FrameBacking backing = physical >> 12 > uint.MaxValue ? FrameBacking.NotRam : _backing((uint)(physical >> 12));
        if (_inRun && linear == _runVirtual + _runBytes && physical == _runPhysical + _runBytes
            && flags == _runFlags && backing == _runBacking)
        {
            _runBytes += SmallPage;
            return;
        }

        EndRun();
        _inRun = true;
        _runVirtual = linear;
        _runPhysical = physical;
        _runBytes = SmallPage;
        _runFlags = flags;
        _runBacking = backing;
    }

    public void EndRun()
    {
        if (!_inRun)
            return;
        _inRun = false;
        Line("  " + Range(_runVirtual, _runBytes), Size(_runBytes), _flagText(_runFlags), Range(_runPhysical, _runBytes), BackingText(_runBacking));
    }

    public void Line(string linear, string entries, string flags, string physical, string backing)
        => _text.Append($"{linear,-19}  {entries,-11}  {flags,-10}  {physical,-17}  {backing}".TrimEnd()).Append('\n');

    /// <summary>"start-end" in hex, 8 digits, more for physical addresses above 4 GiB.</summary>
    public static string Range(ulong start, ulong bytes) => $"{start:x8}-{start + bytes - 1:x8}";

    public static string Size(ulong bytes)
        => bytes % (1UL << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes % (1UL << 20) == 0 ? $"{bytes >> 20} MiB"
        : $"{bytes >> 10} KiB";

    private static string BackingText(FrameBacking backing) => backing switch
    {
        FrameBacking.Private => "private",
        FrameBacking.Zero => "zero",
        FrameBacking.Shared => "shared",
        FrameBacking.Swapped => "swapped",
        FrameBacking.Ballooned => "ballooned",
        _ => "not RAM",
    };
}

using System.Globalization;
using MiniHv.Hv.Loader;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// Where a running i386 Linux kernel keeps its text and data, read from the System.map its build wrote: the
/// bzImage MiniHv loads is a compressed payload that unpacks itself elsewhere, so its own segments say nothing
/// of where the kernel ends up.
/// </summary>
/// <remarks>
/// The map gives virtual addresses ("c1000000 T _text"); phys_startup_32, an absolute symbol, is startup_32's
/// physical address, so the kernel's virtual-to-physical offset is _text - phys_startup_32. Text is
/// [_text, _etext); the rest of the image is read-only data [__start_rodata, __end_rodata), data
/// [_sdata, _edata) and bss [__bss_start, __bss_stop). The init sections between them are left out: the kernel
/// frees them once booted, and they become ordinary memory.
/// </remarks>
public static class LinuxSystemMap
{
    private static readonly string[] Needed =
        ["phys_startup_32", "_text", "_etext", "__start_rodata", "__end_rodata", "_sdata", "_edata", "__bss_start", "__bss_stop"];

    /// <summary>The kernel's text (executable) and its read-only data, data and bss (not executable), at their physical addresses.</summary>
    /// <exception cref="FormatException">The text is not a System.map of an i386 Linux kernel; the message says why, in one line.</exception>
    public static IReadOnlyList<LoadSegment> Segments(string text)
    {
        var symbols = new Dictionary<string, ulong>();
        int lineNumber = 0;
        foreach (string line in text.Split('\n'))
        {
            lineNumber++;
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
                continue;
            if (fields.Length != 3 || fields[1].Length != 1
                || !ulong.TryParse(fields[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong address))
                throw new FormatException($"line {lineNumber} is not 'ADDRESS TYPE SYMBOL' as in a System.map");
            if (Array.IndexOf(Needed, fields[2]) >= 0)
                symbols.TryAdd(fields[2], address);
        }

        string[] missing = Needed.Where(s => !symbols.ContainsKey(s)).ToArray();
        if (missing.Length > 0)
            throw new FormatException($"no {string.Join(", ", missing)}: not the System.map of an i386 Linux kernel");
        ulong offset = symbols["_text"] - symbols["phys_startup_32"];

        LoadSegment Range(string start, string end, bool executable, bool writable)
        {
            ulong from = symbols[start], to = symbols[end];
            if (to < from || from < offset || to - offset > uint.MaxValue)
                throw new FormatException($"{start} 0x{from:x} and {end} 0x{to:x} are not a range of the kernel's physical memory");
            uint size = (uint)(to - from);
            return new LoadSegment((uint)(from - offset), 0, size, size, executable, writable);
        }

        return
        [
            Range("_text", "_etext", executable: true, writable: false),
            Range("__start_rodata", "__end_rodata", executable: false, writable: false),
            Range("_sdata", "_edata", executable: false, writable: true),
            Range("__bss_start", "__bss_stop", executable: false, writable: true),
        ];
    }
}

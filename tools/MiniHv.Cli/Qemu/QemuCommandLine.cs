using System.Globalization;
using MiniHv.Cli.Commands;
using MiniHv.Cli.Debugging;
using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Qemu;

/// <summary>What a qemu-system-i386 command line asks the front end to do.</summary>
internal enum QemuRequest
{
    Run,
    Help,
    Version,

    /// <summary><c>-d help</c>: the log items.</summary>
    LogItems,
}

/// <summary>
/// Reads a qemu-system-i386 command line (the options course Makefiles pass) and turns it into the
/// <c>minihv run</c> command line for the same machine, or one message naming what MiniHv cannot do.
/// Options are spelled <c>-opt</c> or <c>--opt</c>, as QEMU takes them; a word that is not an option is the
/// first hard disk, as QEMU's <c>disk_image</c>.
/// </summary>
internal sealed class QemuCommandLine
{
    /// <summary>The options that take a value; every other known option is a flag.</summary>
    private static readonly HashSet<string> WithValue =
    [
        "kernel", "append", "initrd", "m", "smp", "hda", "hdb", "hdc", "hdd", "drive", "serial", "monitor", "display",
        "gdb", "D", "d", "device", "cpu", "name", "machine", "M",
    ];

    private static readonly HashSet<string> Flags = ["snapshot", "nographic", "no-reboot", "no-shutdown", "S", "s", "help", "h", "version"];

    private readonly SortedDictionary<int, (string File, bool? Snapshot)> _disks = new();
    private readonly List<string> _warnings = [];
    private string? _kernel, _append, _initrd, _name, _memory, _gdb, _logPath, _serialFile;
    private int _processors = 1;
    private string? _serialSpec, _monitorSpec;
    private bool _snapshot, _nographic, _noReboot, _freeze, _gdbDefault, _logInterrupts, _logCpuReset;

    private QemuCommandLine()
    {
    }

    /// <summary>Reads <paramref name="args"/>: false with one line (without the "minihv: " prefix) when they ask what MiniHv cannot do.</summary>
    public static bool TryParse(IReadOnlyList<string> args, out QemuRequest request, out QemuSettings? settings, out string error)
    {
        var line = new QemuCommandLine();
        settings = null;
        request = QemuRequest.Run;
        for (int i = 0; i < args.Count; i++)
        {
            string word = args[i];
            if (word.Length < 2 || word[0] != '-')
            {
                if (!line.TryDisk(word, null, "", out error))
                    return false;
                continue;
            }

            string name = word.StartsWith("--", StringComparison.Ordinal) ? word[2..] : word[1..];
            if (Flags.Contains(name))
            {
                if (name is "help" or "h")
                {
                    request = QemuRequest.Help;
                    error = "";
                    return true;
                }

                if (name == "version")
                {
                    request = QemuRequest.Version;
                    error = "";
                    return true;
                }

                line.Flag(name);
                continue;
            }

            if (!WithValue.Contains(name))
            {
                error = $"{word}: not an option MiniHv's qemu-system-i386 front end knows (see 'minihv qemu -help'); "
                    + "for MiniHv's own options use 'minihv run'";
                return false;
            }

            if (i + 1 >= args.Count)
            {
                error = $"{word}: requires an argument";
                return false;
            }

            string value = args[++i];
            if (name == "d" && value.Split(',').Contains("help"))
            {
                request = QemuRequest.LogItems;
                error = "";
                return true;
            }

            if (!line.TryOption(word, name, value, out error))
                return false;
        }

        return line.TryFinish(out settings, out error);
    }

    private void Flag(string name)
    {
        switch (name)
        {
            case "snapshot":
                _snapshot = true;
                break;
            case "nographic":
                _nographic = true;
                break;
            case "no-reboot":
                _noReboot = true;
                break;
            case "no-shutdown":
                // QEMU keeps the process for its monitor after a power-off; MiniHv's run ends with the guest either way.
                break;
            case "S":
                _freeze = true;
                break;
            case "s":
                _gdbDefault = true;
                break;
        }
    }

    private bool TryOption(string word, string name, string value, out string error)
    {
        error = "";
        string at = $"{word} '{value}'";
        switch (name)
        {
            case "kernel":
                _kernel = value;
                return true;
            case "append":
                _append = value;
                return true;
            case "initrd":
                _initrd = value;
                return true;
            case "m":
                return TryMemory(at, value, out error);
            case "smp":
                return TrySmp(at, value, out error);
            case "hda" or "hdb" or "hdc" or "hdd":
                return TryDisk(value, name[2] - 'a', at, out error);
            case "drive":
                return TryDrive(at, value, out error);
            case "serial":
                _serialSpec = value;
                return true;
            case "monitor":
                _monitorSpec = value;
                return true;
            case "display":
                if (value == "none")
                    return true;
                error = $"{at}: MiniHv has no display; give -nographic or -display none (COM1 is on stdio)";
                return false;
            case "gdb":
                if (!GdbPlan.TryParseEndpoint(value, out _, out string gdbError))
                {
                    error = $"{at}: {gdbError[(gdbError.IndexOf(':') + 1)..].TrimStart()}";
                    return false;
                }

                _gdb = value;
                return true;
            case "D":
                _logPath = value;
                return true;
            case "d":
                return TryLogItems(at, value, out error);
            case "device":
                return TryDevice(at, value, out error);
            case "cpu":
                if (value == "qemu32")
                    return true;
                error = $"{at}: MiniHv models one CPU, QEMU's default qemu32 (give -cpu qemu32 or no -cpu)";
                return false;
            case "name":
                return TryName(at, value, out error);
            default: // machine, M
                return TryMachine(at, value, out error);
        }
    }

    private bool TryMemory(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, "size", out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        if (keys!.FirstUnknownKey("size") is string key)
        {
            error = $"{at}: MiniHv has no memory hotplug ({key}=); give -m SIZE";
            return false;
        }

        string size = keys.Get("size") ?? "";
        if (!CommonOptions.TryParseGuestMemory(size, out _, out error, "-m"))
            return false;
        _memory = size;
        return true;
    }

    private bool TrySmp(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, "cpus", out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        if (keys!.FirstUnknownKey("cpus", "sockets", "dies", "cores", "threads", "maxcpus") is string unknown)
        {
            error = $"{at}: unknown key '{unknown}' (cpus, sockets, dies, cores, threads, maxcpus)";
            return false;
        }

        long product = 1;
        foreach (string key in new[] { "sockets", "dies", "cores", "threads", "cpus", "maxcpus" })
        {
            if (keys.Get(key) is not string text)
                continue;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
            {
                error = $"{at}: {key} '{text}' is not a positive count";
                return false;
            }

            if (key is not ("cpus" or "maxcpus"))
                product *= n;
        }

        long cpus = keys.Get("cpus") is string c ? long.Parse(c, CultureInfo.InvariantCulture) : product;
        if (keys.Get("cpus") != null && product != 1 && product != cpus)
        {
            error = $"{at}: sockets x dies x cores x threads is {product}, not the {cpus} CPUs asked for";
            return false;
        }

        if (cpus > VmConfig.MaxProcessors)
        {
            error = $"{at}: MiniHv gives a guest at most {VmConfig.MaxProcessors} CPUs";
            return false;
        }

        // maxcpus (room for CPU hot-plug) is accepted and has no effect: no guest of our users plugs CPUs in.
        _processors = (int)cpus;
        return true;
    }

    /// <summary>A disk on IDE unit <paramref name="index"/> (null: the next free one, as QEMU places a drive without index=).</summary>
    private bool TryDisk(string file, int? index, string at, out string error, bool? snapshot = null)
    {
        error = "";
        int unit = index ?? Enumerable.Range(0, 4).FirstOrDefault(u => !_disks.ContainsKey(u), -1);
        if (unit is 2 or 3)
        {
            error = $"{(at.Length > 0 ? at : $"'{file}'")}: MiniHv has only the primary IDE channel (index=0 and index=1, -hda and -hdb)";
            return false;
        }

        if (unit < 0 || _disks.ContainsKey(unit))
        {
            error = $"{(at.Length > 0 ? at : $"'{file}'")}: IDE unit {unit} already has a disk";
            return false;
        }

        if (file.Length == 0)
        {
            error = $"{at}: needs a disk image file";
            return false;
        }

        _disks[unit] = (file, snapshot);
        return true;
    }

    private bool TryDrive(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, null, out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        if (keys!.FirstUnknownKey("file", "index", "media", "format", "if", "snapshot") is string unknown)
        {
            error = $"{at}: MiniHv does not take '{unknown}=' (file, index, media=disk, format=raw, if=ide, snapshot)";
            return false;
        }

        if (keys.Get("format") is string format && format != "raw")
        {
            error = $"{at}: MiniHv reads raw disk images only (format=raw), not {format}";
            return false;
        }

        if (keys.Get("if") is string bus && bus != "ide")
        {
            error = $"{at}: MiniHv's disks are IDE (if=ide), it has no {bus}";
            return false;
        }

        if (keys.Get("media") is string media && media != "disk")
        {
            error = $"{at}: MiniHv's IDE units are hard disks (media=disk), not {media}";
            return false;
        }

        bool? snapshot = keys.Get("snapshot") switch
        {
            null => null,
            "on" or "true" => true,
            "off" or "false" => false,
            _ => null,
        };
        if (keys.Get("snapshot") is string s && snapshot == null)
        {
            error = $"{at}: snapshot is on or off, not '{s}'";
            return false;
        }

        int? index = null;
        if (keys.Get("index") is string text)
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 3)
            {
                error = $"{at}: index '{text}' is not an IDE unit from 0 to 3";
                return false;
            }

            index = n;
        }

        return TryDisk(keys.Get("file") ?? "", index, at, out error, snapshot);
    }

    private bool TryLogItems(string at, string value, out string error)
    {
        error = "";
        foreach (string item in value.Split(','))
        {
            switch (item)
            {
                case "int":
                    _logInterrupts = true;
                    break;
                case "cpu_reset":
                    _logCpuReset = true;
                    break;
                default:
                    error = $"{at}: MiniHv logs 'int' and 'cpu_reset' only, not '{item}' (see -d help)";
                    return false;
            }
        }

        return true;
    }

    private static bool TryDevice(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, "driver", out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        if (keys!.Get("driver") != "isa-debug-exit")
        {
            error = $"{at}: MiniHv has no device '{keys.Get("driver")}'; of -device it takes isa-debug-exit,iobase=0xf4,iosize=0x04 only";
            return false;
        }

        if (keys.FirstUnknownKey("driver", "iobase", "iosize") is string unknown)
        {
            error = $"{at}: isa-debug-exit takes iobase and iosize, not '{unknown}'";
            return false;
        }

        // MiniHv's debug-exit port is always at 0xf4, as the course kernels place it.
        if (!(keys.Get("iobase") is string iobase && ParseNumber(iobase) == 0xf4))
        {
            error = $"{at}: MiniHv's isa-debug-exit port is at 0xf4: give iobase=0xf4";
            return false;
        }

        if (keys.Get("iosize") is string iosize && ParseNumber(iosize) is not (1 or 2 or 4))
        {
            error = $"{at}: iosize is 1, 2 or 4 bytes";
            return false;
        }

        return true;
    }

    private bool TryName(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, "guest", out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        if (keys!.FirstUnknownKey("guest", "debug-threads", "process") is string unknown)
        {
            error = $"{at}: unknown key '{unknown}' (guest)";
            return false;
        }

        string name = keys.Get("guest") ?? "";
        if (!GuestSpec.IsValidName(name))
        {
            error = $"{at}: MiniHv's guest names are letters, digits, '-', '_' and '.'";
            return false;
        }

        _name = name;
        return true;
    }

    private static bool TryMachine(string at, string value, out string error)
    {
        if (!QemuKeyValues.TryParse(value, "type", out QemuKeyValues? keys, out error))
        {
            error = $"{at}: {error}";
            return false;
        }

        string type = keys!.Get("type") ?? "pc";
        if (type != "pc" && !type.StartsWith("pc-i440fx", StringComparison.Ordinal))
        {
            error = $"{at}: MiniHv is a PC with an i440FX-era ISA set of devices (-machine pc), not {type}";
            return false;
        }

        if (keys.FirstUnknownKey("type", "accel") is string unknown)
        {
            error = $"{at}: MiniHv takes accel=tcg only, not '{unknown}='";
            return false;
        }

        if (keys.Get("accel") is string accel && accel != "tcg")
        {
            error = $"{at}: MiniHv emulates the CPU (accel=tcg); it has no {accel}";
            return false;
        }

        return true;
    }

    private static long ParseNumber(string text)
    {
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long hex) ? hex : -1;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : -1;
    }

    private bool TryFinish(out QemuSettings? settings, out string error)
    {
        settings = null;
        error = "";
        if (_append != null && _kernel == null)
        {
            error = "-append only allowed with -kernel option";
            return false;
        }

        if (_initrd != null && _kernel == null)
        {
            error = "-initrd only allowed with -kernel option";
            return false;
        }

        if (_kernel == null && !_disks.ContainsKey(0))
        {
            error = "nothing to boot: give -kernel FILE (a multiboot kernel), or a disk to boot from as -hda FILE or -drive file=FILE,index=0";
            return false;
        }

        if (_gdb != null && _gdbDefault)
        {
            error = "-s and -gdb: MiniHv serves gdb on one port; give one of them";
            return false;
        }


        if (!TryConsole(out QemuSerial serial, out bool monitor, out error))
            return false;

        // Every drive's snapshot= must agree: MiniHv keeps a guest's disk writes in memory for all its disks or none.
        var snapshots = _disks.Values.Select(d => d.Snapshot ?? _snapshot).Distinct().ToList();
        if (snapshots.Count > 1)
        {
            error = "-drive snapshot=: MiniHv keeps the writes of all of a guest's disks in memory or of none; give the same snapshot= to each (or -snapshot)";
            return false;
        }

        var spec = new List<string>();
        if (_kernel != null)
            spec.Add(Escape(_kernel));
        if (_append != null)
            spec.Add("append=" + Escape(_append));
        if (_initrd != null)
            spec.Add("initrd=" + Escape(_initrd));
        if (_name != null)
            spec.Add("name=" + _name);
        if (_disks.TryGetValue(0, out var master))
            spec.Add("hda=" + Escape(master.File));
        if (_disks.TryGetValue(1, out var slave))
            spec.Add("hdb=" + Escape(slave.File));
        if (snapshots is [true])
            spec.Add("snapshot");

        var run = new List<string> { "run", "--guest", string.Join(',', spec), "--status", "off" };
        if (_memory != null)
            run.AddRange(["-m", _memory]);
        if (_processors > 1)
            run.AddRange(["--smp", _processors.ToString(CultureInfo.InvariantCulture)]);
        if (_gdb != null)
            run.AddRange(["--gdb", _gdb]);
        if (_gdbDefault)
            run.Add("-s");
        bool gdb = _gdb != null || _gdbDefault;
        if (_freeze && !gdb && !monitor)
        {
            error = "-S without -gdb, -s or a monitor on stdio: nothing could start the guest";
            return false;
        }

        if (_freeze && gdb)
            run.Add("-S");
        settings = new QemuSettings(run, serial, _serialFile, monitor, _noReboot, _logPath, _logInterrupts, _logCpuReset, _warnings,
            FreezeForMonitor: _freeze && !gdb);
        return true;
    }

    /// <summary>
    /// Where COM1 and the monitor go, as QEMU decides it: -nographic puts an unspecified serial port on
    /// mon:stdio (on stdio alone when -monitor is given); without -nographic MiniHv still has no window, so
    /// COM1 goes to stdio and there is no monitor unless -monitor stdio asks for one.
    /// </summary>
    private bool TryConsole(out QemuSerial serial, out bool monitor, out string error)
    {
        error = "";
        monitor = false;
        serial = QemuSerial.Stdio;
        string spec = _serialSpec ?? (_nographic && _monitorSpec == null ? "mon:stdio" : "stdio");
        switch (spec)
        {
            case "stdio":
                break;
            case "mon:stdio":
                serial = QemuSerial.MonitorStdio;
                monitor = true;
                break;
            case "null" or "none":
                serial = QemuSerial.Null;
                break;
            case ['f', 'i', 'l', 'e', ':', .. string file] when file.Length > 0:
                serial = QemuSerial.File;
                _serialFile = file;
                break;
            default:
                error = $"-serial '{spec}': MiniHv's COM1 goes to stdio, mon:stdio, file:FILE or null";
                return false;
        }

        switch (_monitorSpec)
        {
            case null:
                break;
            case "none" or "null":
                monitor = false;
                break;
            case "stdio" when serial is QemuSerial.Stdio or QemuSerial.MonitorStdio:
                error = "-monitor stdio: stdio is already COM1's; give -serial mon:stdio to share it with the monitor";
                return false;
            case "stdio":
                monitor = true;
                break;
            default:
                error = $"-monitor '{_monitorSpec}': MiniHv's monitor is on stdio or none";
                return false;
        }

        return true;
    }

    /// <summary>A value inside a --guest spec: commas doubled, as QEMU's option syntax (and --guest) read them.</summary>
    private static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}

using System.CommandLine;
using System.Globalization;
using System.CommandLine.Parsing;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Memory;

namespace MiniHv.Cli.Commands;

/// <summary>Options that several commands share, with one spelling and one meaning.</summary>
internal static class CommonOptions
{
    /// <summary>Guest RAM, QEMU's -m: "64M", "1G"; a bare number is MiB.</summary>
    /// <remarks>Null when not given: the caller applies its default, which the help shows as written.</remarks>
    public static Option<long?> Memory(string defaultText) => new("--memory", "-m")
    {
        Description = $"guest RAM, like QEMU's -m: 64M, 1G, 512K (a bare number is MiB) [default: {defaultText}]",
        HelpName = "SIZE",
        CustomParser = r => ParseGuestMemory(r, r.Tokens[0].Value),
    };

    public static Option<double?> Timeout() => new("--timeout")
    {
        Description = "stop the guest after this many seconds of host time",
        HelpName = "SECONDS",
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 && double.IsFinite(s))
                return s;
            r.AddError($"--timeout '{text}': --timeout must be a positive number of seconds");
            return null;
        },
    };

    public static Option<long?> MaxInstructions() => new("--max-instructions")
    {
        Description = "stop the guest after this many instructions",
        HelpName = "N",
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value.Replace("_", "", StringComparison.Ordinal);
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0)
                return n;
            r.AddError($"--max-instructions '{r.Tokens[0].Value}': --max-instructions must be a positive count");
            return null;
        },
    };

    public static Option<string> Status()
    {
        var option = new Option<string>("--status")
        {
            Description = "progress while guests run: auto (a live table on a terminal for several guests, plain lines on stderr off a terminal), table, lines, off",
            HelpName = "MODE",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "table", "lines", "off");
        return option;
    }

    public static Running.StatusMode ParseStatus(string text) => Enum.Parse<Running.StatusMode>(text, ignoreCase: true);

    public static Option<bool> Verbose() => new("--verbose", "-v")
    {
        Description = "log machine events (unclaimed ports, guest ends) on stderr",
    };

    private static long ParseGuestMemory(ArgumentResult r, string text)
    {
        if (TryParseGuestMemory(text, out long bytes, out string error))
            return bytes;
        r.AddError(error);
        return 0;
    }

    /// <summary>The smallest machine memory: 4 MiB, enough for a small guest's kernel beside the reclaimer's reserve.</summary>
    public const long MinimumMachineMemoryBytes = 4L << 20;

    /// <summary>A machine memory size (<c>--machine-memory</c>), with the message (naming it <paramref name="label"/>) for one that cannot be.</summary>
    public static bool TryParseMachineMemory(string text, out long bytes, out string error, string label = "--machine-memory")
    {
        if (!SizeParser.TryParse(text, out bytes, out error))
        {
            error = $"{label} '{text}': {error}";
            return false;
        }

        long most = MachineMemory.MaxCapFrames << MachineMemory.FrameShift;
        if (bytes < MinimumMachineMemoryBytes || bytes > most)
        {
            error = $"{label} '{text}': the machine has from {SizeParser.Format(MinimumMachineMemoryBytes)} to {SizeParser.Format(most)} of memory";
            return false;
        }

        if (bytes % MachineMemory.FrameSize != 0)
        {
            error = $"{label} '{text}': machine memory is a whole number of 4 KiB frames";
            return false;
        }

        return true;
    }

    /// <summary>A guest RAM size, with the message (naming it <paramref name="label"/>) for one that no guest can have.</summary>
    public static bool TryParseGuestMemory(string text, out long bytes, out string error, string label = "--memory")
    {
        if (!SizeParser.TryParse(text, out bytes, out error))
        {
            error = $"{label} '{text}': {error}";
            return false;
        }

        if (bytes < MultibootLoader.MinimumRamBytes || bytes > GuestPhysicalMemory.MaxRamBytes)
        {
            error = $"{label} '{text}': a guest has from {SizeParser.Format(MultibootLoader.MinimumRamBytes)} "
                + "up to just under 3.5 GiB of RAM (the rest of 4 GiB is the PCI hole)";
            return false;
        }

        if (bytes % MachineMemory.FrameSize != 0)
        {
            error = $"{label} '{text}': guest RAM is a whole number of 4 KiB pages";
            return false;
        }

        return true;
    }
}

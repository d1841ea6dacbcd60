using System.CommandLine;
using System.Globalization;
using MiniHv.Cli.Disassembly;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Loader;

namespace MiniHv.Cli.Commands;

/// <summary>
/// <c>minihv disasm</c>: list an ELF32 i386 image's code as <c>objdump -d</c> does: one function, the
/// instructions from an address, or every function, with branch targets named by symbol.
/// </summary>
internal static class DisasmCommand
{
    /// <summary>Instructions from --address when --count is not given.</summary>
    public const int DefaultAddressCount = 20;

    public const int MaxCount = 1_000_000;

    public static Command Create(CliStreams streams)
    {
        var image = new Argument<string>("IMAGE")
        {
            Description = "an ELF32 i386 image: a multiboot kernel such as guests/build/jos.elf, or a user program",
            Validators = { r => { if (r.GetValueOrDefault<string>() is ['-', ..] word) r.AddError($"unknown option '{word}'"); } },
        };
        var symbol = new Option<string?>("--symbol")
        {
            Description = "disassemble this function (or assembly label): its st_size bytes, or up to the next symbol when that is 0",
            HelpName = "NAME",
        };
        var address = new Option<uint?>("--address")
        {
            Description = $"disassemble from this virtual address, hexadecimal with or without 0x (--count instructions, default {DefaultAddressCount})",
            HelpName = "A",
            CustomParser = r =>
            {
                if (TryParseAddress(r.Tokens[0].Value, out uint a))
                    return a;
                r.AddError($"--address '{r.Tokens[0].Value}': give a hexadecimal virtual address, such as f0100230 or 0xf0100230");
                return null;
            },
        };
        var count = new Option<int?>("--count")
        {
            Description = "at most this many instructions (with --address or --symbol)",
            HelpName = "N",
            Validators = { r => { if (r.GetValueOrDefault<int?>() is < 1 or > MaxCount) r.AddError($"--count must be from 1 to {MaxCount:N0}"); } },
        };
        var syntax = new Option<string>("--syntax")
        {
            Description = "how instructions are spelled: gas (AT&T, as objdump -d), intel, masm or nasm",
            HelpName = "SYNTAX",
            DefaultValueFactory = _ => "gas",
            Validators =
            {
                r =>
                {
                    if (r.GetValueOrDefault<string>() is not ("gas" or "intel" or "masm" or "nasm"))
                        r.AddError($"--syntax '{r.GetValueOrDefault<string>()}': gas, intel, masm or nasm");
                },
            },
        };
        var bytes = new Option<bool>("--bytes") { Description = "show each instruction's bytes, in hex" };

        var command = new Command("disasm", """
            Disassemble an ELF32 i386 image's code, like objdump -d: --symbol one function, --address a few
            instructions from an address, or without either every function of the executable segments in
            address order, each after a '<name>:' line. Calls and jumps show their targets' symbols. Code is
            decoded as 32-bit protected mode; 16-bit code (a boot sector, an AP trampoline) comes out wrong.
            Exit status: 0 listed; 2 bad option, unknown symbol or address; 4 the image is missing or not ELF32 i386.
            """)
        {
            image, symbol, address, count, syntax, bytes,
        };
        command.Validators.Add(r =>
        {
            bool bySymbol = r.GetResult(symbol) != null, byAddress = r.GetResult(address) != null;
            if (bySymbol && byAddress)
                r.AddError("--symbol and --address cannot be used together: give one");
            else if (r.GetResult(count) != null && !bySymbol && !byAddress)
                r.AddError("--count needs --symbol or --address (the full listing has every instruction)");
        });

        command.SetAction(parse =>
        {
            string path = parse.GetValue(image)!;
            if (!TryLoad(path, streams, out ElfSymbols? elf, out int failure))
                return failure;
            var listing = new ImageListing(elf!, Enum.Parse<DisassemblySyntax>(parse.GetValue(syntax)!, ignoreCase: true),
                parse.GetValue(bytes), streams.Output);
            if (parse.GetValue(address) is uint start)
                return ListFrom(elf!, listing, start, parse.GetValue(count) ?? DefaultAddressCount, streams);
            if (parse.GetValue(symbol) is string name)
                return ListSymbol(elf!, path, listing, name, parse.GetValue(count) ?? MaxCount, streams);
            return ListAll(elf!, path, listing, streams);
        });
        return command;
    }

    /// <summary>Hexadecimal, with or without 0x, up to 32 bits.</summary>
    public static bool TryParseAddress(string text, out uint address)
    {
        string digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out address);
    }

    private static bool TryLoad(string path, CliStreams streams, out ElfSymbols? elf, out int failure)
    {
        elf = null;
        failure = ExitStatus.Ok;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"cannot read image '{path}': {e.Message}");
            return false;
        }

        try
        {
            elf = ElfSymbols.Parse(bytes);
            return true;
        }
        catch (InvalidImageException e)
        {
            failure = streams.Fail(ExitStatus.BadImage, $"{path}: {e.Message}");
            return false;
        }
    }

    private static int ListFrom(ElfSymbols elf, ImageListing listing, uint start, int count, CliStreams streams)
    {
        if (elf.SegmentAt(start) is not ElfSegment segment)
        {
            string loaded = string.Join(", ", elf.Segments);
            string physical = "";
            foreach (ElfSegment s in elf.Segments)
            {
                // A kernel linked high and loaded low (JOS at f0100000, loaded at 00100000): say which virtual address was meant.
                if (start >= s.PhysicalAddress && start - s.PhysicalAddress < s.MemorySize)
                {
                    physical = $"; it is the physical address of virtual {start - s.PhysicalAddress + s.VirtualAddress:x8}";
                    break;
                }
            }

            return streams.Fail(ExitStatus.Usage, $"address {start:x8} is outside every loaded segment ({loaded}){physical}");
        }

        if (start >= segment.FileEnd)
            return streams.Fail(ExitStatus.Usage,
                $"address {start:x8} is in the zero-filled bss of segment {segment} (its file bytes end at {segment.FileEnd:x8}): there is no code there");
        listing.Write(start, long.MaxValue, count);
        return ExitStatus.Ok;
    }

    private static int ListSymbol(ElfSymbols elf, string path, ImageListing listing, string name, int count, CliStreams streams)
    {
        if (!elf.HasSymbolTable)
            return NoSymbolTable(path, streams);
        IReadOnlyList<ElfSymbol> found = elf.Named(name);
        if (found.Count == 0)
        {
            string? close = ClosestName(name, elf.CodeSymbols.Select(s => s.Name));
            string hint = close != null ? $"; did you mean '{close}'?" : "";
            return streams.Fail(ExitStatus.Usage, $"no symbol '{name}' in {path}{hint}");
        }

        List<ElfSymbol> code = found.Where(s => s.IsCode).DistinctBy(s => s.Value).ToList();
        if (code.Count == 0)
        {
            ElfSymbol data = found[0];
            return streams.Fail(ExitStatus.Usage,
                $"'{name}' is not code but {(data.Kind == ElfSymbolKind.Object ? "a data object" : "a label outside the instructions")} at {data.Value:x8}; --address {data.Value:x8} disassembles its bytes anyway");
        }

        foreach (ElfSymbol s in code)
        {
            if (elf.SegmentAt(s.Value) is not ElfSegment segment || s.Value >= segment.FileEnd)
                return streams.Fail(ExitStatus.BadImage, $"{path}: '{name}' at {s.Value:x8} has no bytes in any loaded segment");
            listing.Write(s.Value, elf.SpanEnd(s), count, s);
        }

        return ExitStatus.Ok;
    }

    /// <summary>Every code symbol in an executable segment, in address order, each up to the next.</summary>
    private static int ListAll(ElfSymbols elf, string path, ImageListing listing, CliStreams streams)
    {
        if (!elf.HasSymbolTable)
            return NoSymbolTable(path, streams);
        var starts = new List<ElfSymbol>();
        foreach (ElfSymbol s in elf.CodeSymbols)
        {
            // CodeSymbols lists the preferred name first at each address: one listing per address.
            if ((starts.Count == 0 || starts[^1].Value != s.Value) && elf.SegmentAt(s.Value) is { Executable: true })
                starts.Add(s);
        }

        if (starts.Count == 0)
            return streams.Fail(ExitStatus.BadImage, $"{path}: no function symbols in its executable segments; --address A still disassembles");
        for (int i = 0; i < starts.Count; i++)
        {
            long end = elf.SpanEnd(starts[i]);
            if (i + 1 < starts.Count)
                end = Math.Min(end, starts[i + 1].Value);
            listing.Write(starts[i].Value, end, int.MaxValue, starts[i]);
        }

        return ExitStatus.Ok;
    }

    private static int NoSymbolTable(string path, CliStreams streams)
        => streams.Fail(ExitStatus.BadImage, $"{path} has no symbol table (.symtab): was it stripped? --address A still disassembles");

    /// <summary>The name most like <paramref name="wanted"/>, if one is close: a case or typo slip, or a name holding it whole.</summary>
    public static string? ClosestName(string wanted, IEnumerable<string> names)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        string? containing = null;
        foreach (string name in names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            int d = EditDistance(wanted.ToLowerInvariant(), name.ToLowerInvariant());
            if (d < bestDistance)
                (best, bestDistance) = (name, d);
            if (wanted.Length >= 3 && name.Contains(wanted, StringComparison.OrdinalIgnoreCase) && (containing == null || name.Length < containing.Length))
                containing = name;
        }

        return bestDistance <= Math.Max(2, wanted.Length / 3) ? best : containing;
    }

    /// <summary>Levenshtein distance: the fewest single-character insertions, deletions and substitutions from a to b.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}

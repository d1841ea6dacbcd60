using System.Text;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Shadow;

namespace MiniHv.Tests.EndToEnd;

/// <summary>The outcome of booting one guest to its end: why it stopped and what it printed on COM1.</summary>
internal sealed record GuestRunResult(VmExit Exit, string Transcript, long Instructions, string? RegisterDump, ShadowStats? Shadow);

/// <summary>Boots one image on MiniHv as <c>qemu-system-i386 -kernel IMAGE -append TEXT -m SIZE</c> would, for end-to-end tests.</summary>
internal static class GuestRun
{
    /// <summary>Enough for every test guest; a runaway guest ends here rather than hanging the suite.</summary>
    public const long DefaultMaxInstructions = 4_000_000_000;

    public static GuestRunResult Boot(string imagePath, string append = "", long memoryBytes = 64 << 20,
        byte[]? input = null, long maxInstructions = DefaultMaxInstructions, PagingMode paging = PagingMode.Shadow, Action<Vm>? inspect = null,
        MiniHv.Cpu.CpuTier tier = MiniHv.Cpu.CpuTier.Interp, int processors = 1, bool processorThreads = false)
    {
        var output = new MemoryStream();
        var config = new VmConfig
        {
            Name = Path.GetFileNameWithoutExtension(imagePath),
            Image = File.ReadAllBytes(imagePath),
            CommandLine = MultibootLoader.QemuCommandLine(imagePath, append),
            MemoryBytes = memoryBytes,
            MaxInstructions = maxInstructions,
            Timeout = TimeSpan.FromSeconds(120),
            Paging = paging,
            Tier = tier,
            Processors = processors,
        };
        using var machine = new MachineMemory(memoryBytes >> 12);
        using var vm = new Vm(config, machine, output.WriteByte);
        vm.ProcessorThreads = processorThreads;
        if (input != null)
            vm.SendInput(input);
        vm.CloseInput();
        VmExit exit = vm.RunToEnd();
        inspect?.Invoke(vm);
        return new GuestRunResult(exit, Encoding.UTF8.GetString(output.ToArray()), vm.Instructions, vm.FinalRegisterDump, vm.Shadow?.Stats);
    }

    /// <summary>"64M", "1G", "4096K" as QEMU's -m reads them (a bare number is MiB).</summary>
    public static long ParseQemuSize(string text)
    {
        char unit = char.ToUpperInvariant(text[^1]);
        long shift = unit switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => -1 };
        return shift < 0 ? long.Parse(text) << 20 : long.Parse(text[..^1]) << (int)shift;
    }

    /// <summary>Decodes the C escapes (\n \r \t \\ \xHH) of a manifest's stdin field.</summary>
    public static byte[] Unescape(string text)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 == text.Length)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
                continue;
            }

            char c = text[++i];
            switch (c)
            {
                case 'n': bytes.Add((byte)'\n'); break;
                case 'r': bytes.Add((byte)'\r'); break;
                case 't': bytes.Add((byte)'\t'); break;
                case 'x':
                    bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                    i += 2;
                    break;
                default: bytes.Add((byte)c); break;
            }
        }

        return bytes.ToArray();
    }
}

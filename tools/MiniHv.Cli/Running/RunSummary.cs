using System.Globalization;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Running;

/// <summary>The few lines after a run: how it ended, how fast it went, and what its memory cost.</summary>
internal static class RunSummary
{
    public static void Write(TextWriter output, Vm vm, MachineMemory machine)
    {
        double seconds = vm.HostTime.TotalSeconds;
        double mips = seconds > 0 ? vm.Instructions / seconds / 1e6 : 0;
        long ramFrames = vm.Memory.FrameCount;
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{vm.Name}: {vm.Exit?.Message}; {vm.Instructions:N0} instructions in {seconds:0.00} s ({mips:0} MIPS)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{vm.Name}: guest RAM {ramFrames} frames ({SizeParser.Format(ramFrames << 12)}): {vm.Memory.PrivateFrames} private, "
            + $"{vm.Memory.ZeroMappedFrames} still on the zero frame; machine frames in use at the end {machine.FramesInUse}, "
            + $"at most {machine.PeakFramesInUse} ({SizeParser.Format(machine.PeakFramesInUse << 12)})"));
    }

    /// <summary>What sharing did, and how close the machine came to the least memory the guests' contents need.</summary>
    public static void WriteSharing(TextWriter output, SharingEngine? engine, FrameCensus census, IReadOnlyDictionary<FrameContent, long>? byContent)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: guests use {census.GuestFramesInUse} frames, the machine holds {census.MachineFramesInUse}, "
            + $"distinct contents {census.DistinctContents}: {census.AchievedSaving} of {census.PossibleSaving} possible frames saved ({census.Efficiency:P0})"));
        if (engine == null)
            return;
        SharingStats s = engine.Stats;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sharing ({engine.Policy.ToString().ToLowerInvariant()}): pages_shared {s.PagesShared}, pages_sharing {s.PagesSharing}, "
            + $"zero_pages {s.ZeroPages}, pages_unshared {s.PagesUnshared}, pages_volatile {s.PagesVolatile}, full_scans {s.FullScans}, "
            + $"cow_breaks {s.CowBreaks}, bytes_saved {s.BytesSaved}"));
        if (byContent != null)
            output.WriteLine("merged frames hold: " + string.Join(", ", byContent.Where(kv => kv.Value > 0).Select(kv => $"{Stats.StatsWriter.SnakeCase(kv.Key)} {kv.Value}")));
    }
}

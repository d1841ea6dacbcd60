using System.Text.Json;
using System.Text.Json.Serialization;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Shadow;

namespace MiniHv.Cli.Stats;

/// <summary>Builds a run's <see cref="StatsDocument"/> from its guests and writes it as indented JSON.</summary>
internal static class StatsWriter
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static StatsDocument Build(IReadOnlyList<Vm> vms, RunInfo run)
    {
        var guests = vms.Select((vm, i) => Guest(vm, i + 1)).ToList();
        string version = typeof(StatsWriter).Assembly.GetName().Version?.ToString() ?? "unknown";
        return new StatsDocument(StatsDocument.FormatName, StatsDocument.CurrentVersion, version, DateTimeOffset.UtcNow, run, guests);
    }

    public static void Write(Stream output, StatsDocument document) => JsonSerializer.Serialize(output, document, Json);

    private static GuestStats Guest(Vm vm, int id)
    {
        VmExit exit = vm.Exit ?? new VmExit(VmExitKind.Stopped, null, "still running");
        var memory = new GuestMemoryStats(vm.Memory.FrameCount, vm.Memory.PrivateFrames, vm.Memory.ZeroMappedFrames, vm.Memory.ReadOnlyFrames);
        return new GuestStats(id, vm.Name, vm.Config.CommandLine, vm.Config.MemoryBytes, exit.Reason, exit.Message,
            Running.GuestExitStatus.For(exit), vm.Instructions, vm.HostTime.TotalSeconds, memory, Shadow(vm));
    }

    private static ShadowCounters? Shadow(Vm vm)
    {
        if (vm.Shadow is not ShadowMmu mmu)
            return null;
        ShadowStats s = mmu.Stats;
        var hidden = new HiddenFaults(s.PageTableWrites, vm.Memory.ZeroFrameBreaks, vm.Memory.CopyOnWriteBreaks, s.AdUpdates);
        return new ShadowCounters(vm.Instructions, vm.GuestPageFaults, hidden, s.ShadowFills, s.Cr3Switches, s.Cr3SwitchHits,
            s.Cr3FirstVisits, s.Cr3HitRate, s.Cr3RevisitHitRate, s.ShadowsCreated, s.ShadowsDropped, s.Shootdowns, s.TablesUnshadowed, s.InvlpgDrops);
    }
}

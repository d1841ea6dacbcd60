using System.Text;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Cli.Running;

/// <summary>
/// VMs on one machine memory whose COM1 output is kept in memory and whose input is closed: for runs that read
/// the transcripts afterwards (experiments, tests) rather than show them. Disposing disposes the VMs.
/// </summary>
internal sealed class CapturedGuests : IDisposable
{
    private readonly List<MemoryStream> _outputs = new();

    public CapturedGuests(IEnumerable<VmConfig> configs, MachineMemory machine)
    {
        try
        {
            foreach (VmConfig c in configs)
            {
                var output = new MemoryStream();
                _outputs.Add(output);
                var vm = new Vm(c, machine, output.WriteByte);
                vm.CloseInput();
                Vms.Add(vm);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public List<Vm> Vms { get; } = new();

    /// <summary>What guest <paramref name="index"/> printed so far.</summary>
    public string Transcript(int index) => Encoding.UTF8.GetString(_outputs[index].ToArray());

    /// <summary>Whether guest <paramref name="index"/> printed <paramref name="text"/> so far, without copying its output.</summary>
    public bool Printed(int index, ReadOnlySpan<byte> text)
        => _outputs[index].GetBuffer().AsSpan(0, (int)_outputs[index].Length).IndexOf(text) >= 0;

    public void Dispose()
    {
        foreach (Vm vm in Vms)
            vm.Dispose();
    }
}

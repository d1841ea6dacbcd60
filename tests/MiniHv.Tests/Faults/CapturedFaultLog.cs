using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Faults;

/// <summary>A fault log of a real guest's CPU, wired as the VM wires its own, writing to a captured logger.</summary>
internal static class CapturedFaultLog
{
    /// <summary>Attach a log to <paramref name="vm"/>'s CPU (after the VM's own observer); its events go to <paramref name="capture"/>.</summary>
    public static FaultLog Attach(Vm vm, LogCapture capture)
    {
        var faults = new FaultLog(vm.Name, 0, QuietLinearReader.Create(vm.Cpu.TryTranslateQuiet, vm.Memory), capture.Logger);
        Action<FaultRecord>? vmObserver = vm.Cpu.FaultObserver;
        vm.Cpu.FaultObserver = record =>
        {
            vmObserver?.Invoke(record);
            SegmentCache cs = vm.Cpu.GetSegment(SegReg.CS);
            faults.OnException(record, vm.Cpu.InstructionsExecuted, cs.Base, cs.Big ? 32 : 16);
        };
        return faults;
    }
}

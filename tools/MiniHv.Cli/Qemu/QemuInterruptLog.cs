using MiniHv.Cpu;
using MiniHv.Hv.Machine;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// <c>-d int</c> as QEMU 7.2 writes it: "check_exception old: ... new ..." before an exception, "Servicing hardware
/// INT=0x.." before a hardware interrupt, and, in protected mode, one numbered line per delivery
/// (<c>v= e= i= cpl= IP= pc= SP=</c>, then CR2 for a page fault or EAX) followed by the processor's state.
/// </summary>
internal sealed class QemuInterruptLog
{
    private readonly TextWriter _log;
    private readonly object _gate = new();
    private int _count;

    public QemuInterruptLog(TextWriter log) => _log = log;

    /// <summary>Log every delivery of every processor of <paramref name="vm"/>.</summary>
    public void Attach(Vm vm)
    {
        foreach (VirtualCpu p in vm.Processors)
        {
            MiniHv.Cpu.Cpu cpu = p.Cpu;
            cpu.DeliveryObserver = e => Write(cpu, e);
        }
    }

    private void Write(MiniHv.Cpu.Cpu cpu, DeliveryEvent e)
    {
        lock (_gate)
        {
            if (e.Source == DeliverySource.Exception)
                _log.Write($"check_exception old: 0x{(uint)e.PreviousVector:x} new 0x{e.Vector:x}\n");
            else if (e.Source == DeliverySource.Hardware)
                _log.Write($"Servicing hardware INT=0x{e.Vector:x2}\n");
            if ((cpu.Cr0 & MiniHv.Cpu.Cpu.CR0_PE) == 0)
                return; // QEMU numbers and dumps protected-mode deliveries only

            SegmentCache cs = cpu.GetSegment(SegReg.CS), ss = cpu.GetSegment(SegReg.SS);
            string tail = e.Vector == Vectors.PF ? $"CR2={cpu.Cr2:x8}" : $"env->regs[R_EAX]={cpu.Eax:x8}";
            _log.Write($"{_count,6}: v={e.Vector:x2} e={Math.Max(e.ErrorCode, 0):x4} i={(e.Source == DeliverySource.Software ? 1 : 0)} "
                + $"cpl={cpu.Cpl} IP={cs.Selector:x4}:{e.Eip:x8} pc={cs.Base + e.Eip:x8} SP={ss.Selector:x4}:{cpu.Esp:x8} {tail}\n");
            _log.Write(QemuCpuState.Format(cpu, e.Eip));
            _count++;
        }
    }
}

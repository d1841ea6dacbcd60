using MiniHv.Hv.Devices;

namespace MiniHv.Tests.Devices;

/// <summary>IRQ lines that remember their levels and count rising edges, standing in for the PIC.</summary>
internal sealed class RecordingIrqLines : IIrqLines
{
    private readonly bool[] _levels = new bool[16];
    private readonly int[] _risingEdges = new int[16];

    public bool IsHigh(int irq) => _levels[irq];

    public int RisingEdges(int irq) => _risingEdges[irq];

    public void RaiseIrq(int irq)
    {
        if (!_levels[irq])
            _risingEdges[irq]++;
        _levels[irq] = true;
    }

    public void LowerIrq(int irq) => _levels[irq] = false;
}

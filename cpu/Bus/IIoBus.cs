namespace MiniHv.Cpu;

/// <summary>The port I/O space seen by IN/OUT/INS/OUTS. Sizes are 1, 2 or 4 bytes.</summary>
public interface IIoBus
{
    uint In(ushort port, int size);

    void Out(ushort port, int size, uint value);
}

using System.Runtime.CompilerServices;
using MiniHv.Cpu;

namespace MiniHv.Hv.Faults;

/// <summary>
/// An exception the guest saw, kept as plain values until someone reads the ring: the CPU's record, where and
/// when it happened, and the bytes at CS:EIP read at the time (the address space and the code may have changed
/// by the time the event is built). Taking one allocates nothing, so a guest can fault a million times a second
/// without garbage; <see cref="FaultEventBuilder.FromCaptured"/> makes the <see cref="FaultEvent"/>.
/// </summary>
internal struct CapturedException
{
    public FaultRecord Record;
    public long Instructions;
    public long Ordinal;
    public uint CodeSegmentBase;
    public int Bitness;

    /// <summary>How many of <see cref="Bytes"/> could be read at CS:EIP (none when EIP is not mapped).</summary>
    public int ByteCount;

    public InstructionBytes Bytes;

    /// <summary>Room for the longest instruction.</summary>
    [InlineArray(FaultDisassembler.MaxInstructionLength)]
    public struct InstructionBytes
    {
        private byte _first;
    }
}

namespace MiniHv.Hv.Devices;

/// <summary>The access widths a device decodes itself; the bus splits wider accesses into these.</summary>
[Flags]
public enum PortWidths
{
    Byte = 1,
    Word = 2,
    Dword = 4,
    All = Byte | Word | Dword,
}

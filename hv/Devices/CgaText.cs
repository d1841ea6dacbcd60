using System.Text;

namespace MiniHv.Hv.Devices;

/// <summary>The CGA 80x25 text display: its CRTC ports 0x3D4/0x3D5, mode and status ports, and a text dump of guest RAM at 0xB8000.</summary>
/// <remarks>
/// The character cells live in guest RAM, which the memory code owns; this device only reads them
/// when asked for a dump, following the CRTC start address as the hardware would when it scrolls.
/// All CRTC registers read back, as on the VGA that QEMU emulates.
/// </remarks>
public sealed class CgaText : IPortDevice
{
    public const uint BufferAddress = 0xB8000;
    public const int Columns = 80;
    public const int Rows = 25;

    public const ushort CrtcIndexPort = 0x3D4;
    public const ushort CrtcDataPort = 0x3D5;
    public const ushort ModeControlPort = 0x3D8;
    public const ushort ColorSelectPort = 0x3D9;
    public const ushort StatusPort = 0x3DA;

    private const int CursorHigh = 0x0E;
    private const int CursorLow = 0x0F;
    private const int StartHigh = 0x0C;
    private const int StartLow = 0x0D;

    // The CGA's 16 KiB of text memory holds 8192 cells; addresses wrap within it.
    private const int CellCount = 0x2000;

    private static readonly string Glyphs = BuildGlyphs();

    private readonly Func<uint, byte> _readPhysical;
    private readonly byte[] _crtc = new byte[32];
    private byte _crtcIndex;
    private byte _mode = 0x29; // 80x25 text, video on, blink, as the BIOS leaves it
    private byte _colorSelect;
    private int _statusReads;

    /// <param name="readPhysical">Reads one byte of guest physical memory.</param>
    public CgaText(Func<uint, byte> readPhysical)
    {
        ArgumentNullException.ThrowIfNull(readPhysical);
        _readPhysical = readPhysical;
    }

    /// <summary>The cursor's cell index (row * 80 + column) from CRTC registers 0x0E/0x0F.</summary>
    public int CursorOffset => _crtc[CursorHigh] << 8 | _crtc[CursorLow];

    public int CursorRow => CursorOffset / Columns;

    public int CursorColumn => CursorOffset % Columns;

    /// <summary>The cell shown top left, from CRTC registers 0x0C/0x0D.</summary>
    public int StartOffset => _crtc[StartHigh] << 8 | _crtc[StartLow];

    /// <summary>Claims 0x3D4-0x3D5 and 0x3D8-0x3DA.</summary>
    public void Attach(IoBus bus)
    {
        bus.Register(CrtcIndexPort, 2, this);
        bus.Register(ModeControlPort, 3, this);
    }

    /// <summary>The screen as 25 lines of text (code page 437), each without trailing spaces, joined by '\n'.</summary>
    public string DumpText()
    {
        var text = new StringBuilder(Rows * (Columns + 1));
        Span<char> line = stackalloc char[Columns];
        for (int row = 0; row < Rows; row++)
        {
            for (int col = 0; col < Columns; col++)
            {
                int cell = (StartOffset + row * Columns + col) % CellCount;
                line[col] = Glyphs[_readPhysical(BufferAddress + (uint)cell * 2)];
            }
            if (row > 0)
                text.Append('\n');
            text.Append(line.TrimEnd(' '));
        }
        return text.ToString();
    }

    public uint ReadPort(ushort port, int size) => port switch
    {
        CrtcIndexPort => _crtcIndex,
        CrtcDataPort => _crtc[_crtcIndex & 0x1F],
        ModeControlPort => _mode,
        ColorSelectPort => _colorSelect,
        _ => ReadStatus(),
    };

    public void WritePort(ushort port, int size, uint value)
    {
        switch (port)
        {
            case CrtcIndexPort:
                _crtcIndex = (byte)value;
                break;
            case CrtcDataPort:
                _crtc[_crtcIndex & 0x1F] = (byte)value;
                break;
            case ModeControlPort:
                _mode = (byte)value;
                break;
            case ColorSelectPort:
                _colorSelect = (byte)value;
                break;
        }
    }

    /// <summary>Status: bit 0 display enable, bit 3 vertical retrace. They cycle on each read so retrace-polling loops end.</summary>
    private byte ReadStatus()
    {
        int n = _statusReads++;
        return (byte)((n & 1) | (n & 2) << 2);
    }

    private static string BuildGlyphs()
    {
        // Code page 437 as the CGA character ROM draws it; cell byte 0 shows as a blank.
        var glyphs = new char[256];
        const string Low = " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼";
        Low.CopyTo(glyphs);
        for (int b = 0x20; b < 0x7F; b++)
            glyphs[b] = (char)b;
        glyphs[0x7F] = '⌂';
        byte[] high = new byte[128];
        for (int i = 0; i < 128; i++)
            high[i] = (byte)(0x80 + i);
        Encoding cp437 = CodePagesEncodingProvider.Instance.GetEncoding(437)!;
        cp437.GetChars(high, glyphs.AsSpan(0x80));
        return new string(glyphs);
    }
}

using System.Runtime.InteropServices;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// Puts the terminal on stdin in the mode QEMU's stdio console uses while the guest runs, and back after:
/// bytes arrive one at a time, unechoed and untranslated, and Ctrl-C reaches the guest instead of ending the
/// run (Ctrl-A x ends it); output processing stays on. Set with tcsetattr on stdin itself (an stty child would
/// not do: .NET puts the terminal back to its own settings when a child process ends).
/// </summary>
internal sealed partial class QemuTerminal : IDisposable
{
    // struct termios on Linux: c_iflag, c_oflag, c_cflag, c_lflag (4 bytes each), c_line, c_cc[32], then the speeds.
    private const int IflagOffset = 0, OflagOffset = 4, CflagOffset = 8, LflagOffset = 12, CcOffset = 17, TermiosSize = 60;
    private const int VTime = 5, VMin = 6;
    private const uint IGNBRK = 0x1, BRKINT = 0x2, PARMRK = 0x8, ISTRIP = 0x20, INLCR = 0x40, IGNCR = 0x80, ICRNL = 0x100, IXON = 0x400;
    private const uint OPOST = 0x1;
    private const uint CSIZE = 0x30, CS8 = 0x30, PARENB = 0x100;
    private const uint ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, ECHONL = 0x40, IEXTEN = 0x8000;
    private const int StdinFd = 0, TCSANOW = 0;

    private readonly byte[] _saved;

    private QemuTerminal(byte[] saved) => _saved = saved;

    /// <summary>Raw mode when stdin is a terminal on Linux; null otherwise (a pipe or a file needs nothing).</summary>
    public static QemuTerminal? Raw()
    {
        if (!OperatingSystem.IsLinux() || Console.IsInputRedirected)
            return null;
        var saved = new byte[TermiosSize + 4];
        if (TcGetAttr(StdinFd, saved) != 0)
            return null;
        var raw = (byte[])saved.Clone();
        Change(raw, IflagOffset, IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON, 0);
        Change(raw, OflagOffset, 0, OPOST);
        Change(raw, CflagOffset, CSIZE | PARENB, CS8);
        Change(raw, LflagOffset, ECHO | ECHONL | ICANON | IEXTEN | ISIG, 0);
        raw[CcOffset + VMin] = 1;
        raw[CcOffset + VTime] = 0;
        // .NET keeps ISIG as TreatControlCAsInput says, and says it again whenever it touches the terminal.
        Console.TreatControlCAsInput = true;
        if (TcSetAttr(StdinFd, TCSANOW, raw) == 0)
            return new QemuTerminal(saved);
        Console.TreatControlCAsInput = false;
        return null;
    }

    public void Dispose()
    {
        Console.TreatControlCAsInput = false;
        TcSetAttr(StdinFd, TCSANOW, _saved);
    }

    private static void Change(byte[] termios, int offset, uint clear, uint set)
    {
        uint flags = BitConverter.ToUInt32(termios, offset);
        BitConverter.TryWriteBytes(termios.AsSpan(offset), (flags & ~clear) | set);
    }

    [LibraryImport("libc", EntryPoint = "tcgetattr")]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr")]
    private static partial int TcSetAttr(int fd, int optionalActions, byte[] termios);
}

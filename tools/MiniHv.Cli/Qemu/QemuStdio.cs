using System.Text;
using MiniHv.Cli.Running;
using MiniHv.Hv.Debugging;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Sharing;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// stdin as QEMU's mon:stdio shares it between the guest's COM1 and the monitor: bytes go to the side that has
/// the focus; Ctrl-A x ends the run, Ctrl-A c moves the focus between the guest and the monitor, Ctrl-A Ctrl-A
/// sends one Ctrl-A, Ctrl-A h lists these. Without the escapes (<c>-monitor stdio</c> beside a serial port
/// elsewhere) the monitor has stdin to itself. The monitor's output shares stdout with the guest's.
/// </summary>
internal sealed class QemuStdio
{
    private const byte CtrlA = 0x01;

    private const string EscapeHelp = "\nC-a h    print this help\nC-a x    exit emulator\nC-a c    switch between console and monitor\nC-a C-a  sends C-a\n";

    private readonly Stream? _input;
    private readonly Stream _terminal;
    private readonly bool _escapes;
    private readonly bool _monitorAvailable;
    private readonly bool _startStopped;
    private readonly bool _monitorOnly;
    private readonly StringBuilder _line = new();
    private SharedConsole? _output;
    private Vm? _vm;
    private QemuMonitor? _monitor;
    private bool _inMonitor;
    private bool _bannerShown;
    private bool _afterEscape;
    private byte _lastByte;
    private bool _quit; // Ctrl-A x or the monitor's quit: the rest of stdin is nobody's

    /// <param name="input">stdin, or null for none.</param>
    /// <param name="terminal">stdout, where the monitor writes when COM1 is elsewhere.</param>
    /// <param name="escapes">Ctrl-A commands are read (mon:stdio); false when the monitor alone reads stdin.</param>
    /// <param name="monitorAvailable">Ctrl-A c (or stdin without escapes) reaches a monitor.</param>
    /// <param name="startStopped">QEMU's -S without gdb: the guest is held before its first instruction until the monitor's <c>cont</c>.</param>
    public QemuStdio(Stream? input, Stream terminal, bool escapes, bool monitorAvailable, bool startStopped = false)
    {
        _startStopped = startStopped;
        _input = input;
        _terminal = terminal;
        _escapes = escapes;
        _monitorAvailable = monitorAvailable;
        _monitorOnly = !escapes && monitorAvailable;
    }

    /// <summary>
    /// Takes stdin for <paramref name="vm"/> before it runs (the run's <see cref="RunPlan.Starting"/>): attaches a
    /// debugger for the monitor when gdb has not, and reads stdin on a background thread. With mon:stdio the
    /// monitor writes through <paramref name="output"/>, the console COM1 shares; else straight to stdout.
    /// </summary>
    public void Start(Vm vm, SharingEngine? engine, SharedConsole output)
    {
        _vm = vm;
        _output = _escapes ? output : new SharedConsole(_terminal);
        if (_monitorAvailable)
        {
            bool gdbOwns = vm.Debugger != null;
            vm.Debugger ??= new GuestDebugger(vm, startStopped: _startStopped);
            _monitor = new QemuMonitor(vm, vm.Debugger, gdbOwns, engine);
        }

        if (_monitorOnly)
        {
            vm.CloseInput();
            EnterMonitor();
        }

        var thread = new Thread(Pump) { IsBackground = true, Name = $"stdin for {vm.Name} (mon:stdio)" };
        thread.Start();
    }

    private void Pump()
    {
        var buffer = new byte[4096];
        var toGuest = new List<byte>();
        try
        {
            int n;
            while (!_quit && _input != null && (n = _input.Read(buffer, 0, buffer.Length)) > 0)
            {
                for (int i = 0; i < n && !_quit; i++)
                    Take(buffer[i], toGuest);
                Flush(toGuest);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // A closed or broken stdin is the end of input.
        }

        if (!_monitorOnly)
            _vm!.CloseInput();
    }

    private void Take(byte b, List<byte> toGuest)
    {
        if (_escapes && _afterEscape)
        {
            _afterEscape = false;
            switch (b)
            {
                case (byte)'x':
                    Flush(toGuest);
                    Quit("QEMU: Terminated\n");
                    return;
                case (byte)'c' when _monitorAvailable:
                    Flush(toGuest);
                    if (_inMonitor)
                        _inMonitor = false;
                    else
                        EnterMonitor();
                    return;
                case (byte)'h':
                    Write(EscapeHelp);
                    return;
                case CtrlA:
                    break; // a Ctrl-A for whoever has the focus
                default:
                    return;
            }
        }
        else if (_escapes && b == CtrlA)
        {
            _afterEscape = true;
            return;
        }

        if (_inMonitor)
            MonitorByte(b);
        else
            toGuest.Add(b);
    }

    private void Flush(List<byte> toGuest)
    {
        if (toGuest.Count == 0)
            return;
        _vm!.SendInput(toGuest.ToArray());
        toGuest.Clear();
    }

    private void EnterMonitor()
    {
        _inMonitor = true;
        if (!_bannerShown)
        {
            _bannerShown = true;
            Write(QemuMonitor.Banner);
        }

        Write(QemuMonitor.Prompt);
    }

    /// <summary>One byte typed at the monitor: echoed as QEMU's line editor does, a command run at Enter.</summary>
    private void MonitorByte(byte b)
    {
        byte last = _lastByte;
        _lastByte = b;
        switch (b)
        {
            case (byte)'\n' when last == '\r':
                return; // the second half of a CR LF
            case (byte)'\r' or (byte)'\n':
                Write("\n");
                string line = _line.ToString();
                _line.Clear();
                if (QemuMonitor.IsQuit(line))
                {
                    Quit("");
                    return;
                }

                Write(_monitor!.Execute(line) + QemuMonitor.Prompt);
                return;
            case 0x7f or 0x08:
                if (_line.Length > 0)
                {
                    _line.Length--;
                    Write("\b \b");
                }

                return;
            case >= 0x20 and < 0x7f:
                _line.Append((char)b);
                Write(((char)b).ToString());
                return;
        }
    }

    private void Quit(string message)
    {
        if (message.Length > 0)
            Write(message);
        _quit = true;
        _vm!.RequestStop();
    }

    private void Write(string text)
    {
        _output!.WriteLine([], Encoding.UTF8.GetBytes(text));
        _output.Flush();
    }
}

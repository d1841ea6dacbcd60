using System.Net;
using System.Net.Sockets;
using System.Text;
using MiniHv.Cpu;
using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// A gdb remote stub for one guest: listens on a TCP port, serves one gdb at a time, and speaks the GDB
/// remote serial protocol through <see cref="GuestDebugger"/>. A client that connects stops the guest (as
/// QEMU's does); one that detaches, is killed or goes away leaves it running without traps, and the next may
/// connect. Whatever a client sends, the stub answers per the protocol or drops it: never the guest.
/// </summary>
public sealed class GdbStub : IDisposable
{
    /// <summary>The largest packet payload we accept and announce (qSupported's PacketSize, in hex there).</summary>
    public const int PacketSize = 0x4000;

    // gdb's thread n is processor n - 1; registers and memory are read through the selected one (Hg, or the one that stopped).
    private volatile int _selected;

    private readonly GuestDebugger _debugger;
    private readonly MonitorCommands _monitor;
    private readonly TcpListener _listener;
    private readonly Thread _thread;
    private readonly object _sendLock = new();
    private readonly HashSet<uint> _softwareBreakpoints = new();
    private readonly HashSet<uint> _hardwareBreakpoints = new();
    private readonly Action<string> _log;
    private volatile bool _disposed;
    private Stream? _client;
    private Socket? _socket;
    private bool _noAck;
    private byte[]? _lastSent;

    // A 'c' or 's' is waiting for its stop reply, which the guest's thread sends when the guest stops.
    private volatile bool _awaitingStop;

    /// <summary>Binds <paramref name="endpoint"/> (port 0 picks a free one; see <see cref="Endpoint"/>).</summary>
    /// <exception cref="SocketException">The address cannot be bound (in use, not ours).</exception>
    public GdbStub(GuestDebugger debugger, IPEndPoint endpoint, MonitorCommands monitor, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(debugger);
        ArgumentNullException.ThrowIfNull(endpoint);
        _debugger = debugger;
        _monitor = monitor ?? new MonitorCommands();
        _log = log ?? (_ => { });
        _listener = new TcpListener(endpoint);
        _listener.Server.ExclusiveAddressUse = true;
        _listener.Start(1);
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _debugger.StateChanged += OnStateChanged;
        _thread = new Thread(Serve) { IsBackground = true, Name = $"gdb stub {debugger.Vm.Name}" };
    }

    /// <summary>Where gdb connects.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Accept clients from now on.</summary>
    public void Start() => _thread.Start();

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _debugger.StateChanged -= OnStateChanged;
        _listener.Stop();
        CloseClient();
        if (_thread.IsAlive)
            _thread.Join(TimeSpan.FromSeconds(2));
    }

    // ---- Connections -------------------------------------------------------------------------

    private void Serve()
    {
        while (!_disposed)
        {
            Socket socket;
            try
            {
                socket = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            socket.NoDelay = true;
            lock (_sendLock)
            {
                _socket = socket;
                _client = new NetworkStream(socket, ownsSocket: true);
                _noAck = false;
                _lastSent = null;
            }

            _log($"gdb connected from {socket.RemoteEndPoint}");
            try
            {
                Session(new RspReader(_client, PacketSize));
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The client went away mid-reply: as a disconnect.
            }
            catch (Exception e)
            {
                // A defect of ours in answering a packet: drop this client rather than the process and its guests.
                _log($"gdb stub error, client dropped: {e.GetType().Name}: {e.Message}");
            }

            // Whatever ended the session, the guest goes on without traps.
            _awaitingStop = false;
            CloseClient();
            ReleaseGuest();
            _log("gdb disconnected");
        }
    }

    private void Session(RspReader reader)
    {
        _debugger.Interrupt(); // a debugger that connects finds the guest stopped
        while (!_disposed)
        {
            RspEvent e = reader.Next();
            switch (e.Kind)
            {
                case RspEventKind.Closed:
                case RspEventKind.TooLong:
                    return;
                case RspEventKind.Ack:
                    break;
                case RspEventKind.Nack:
                    Resend();
                    break;
                case RspEventKind.BadChecksum:
                    if (!_noAck)
                        SendRaw([RspPacket.Nack]);
                    break;
                case RspEventKind.Interrupt:
                    _debugger.Interrupt();
                    break;
                case RspEventKind.Packet:
                    if (!_noAck)
                        SendRaw([RspPacket.Ack]);
                    if (!Handle(RspPacket.Latin1.GetString(e.Payload), e.Payload))
                        return;
                    break;
            }
        }
    }

    /// <summary>The client is gone or detached: no traps, and a stopped guest runs again.</summary>
    private void ReleaseGuest()
    {
        lock (_softwareBreakpoints)
        {
            _softwareBreakpoints.Clear();
            _hardwareBreakpoints.Clear();
        }

        _debugger.ClearTraps();
        _debugger.Resume(step: false);
    }

    private void CloseClient()
    {
        lock (_sendLock)
        {
            try
            {
                _socket?.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _client?.Dispose();
            _client = null;
            _socket = null;
        }
    }

    // ---- Sending -----------------------------------------------------------------------------

    private void Send(string payload)
    {
        byte[] packet = RspPacket.Frame(payload);
        lock (_sendLock)
        {
            _lastSent = packet;
            SendRaw(packet);
        }
    }

    private void Resend()
    {
        lock (_sendLock)
        {
            if (_lastSent != null)
                SendRaw(_lastSent);
        }
    }

    private void SendRaw(byte[] bytes)
    {
        lock (_sendLock)
        {
            try
            {
                _client?.Write(bytes);
                _client?.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // The reader sees the connection end and cleans up.
            }
        }
    }

    /// <summary>On the guest's thread: a resumed guest stopped or ended; answer the 'c' or 's' that waits.</summary>
    private void OnStateChanged(DebugState state)
    {
        if (state == DebugState.Exited)
        {
            _awaitingStop = false;
            Send(ExitReply());
            return;
        }

        if (_awaitingStop)
        {
            _awaitingStop = false;
            Send(StopReply());
        }
    }

    private string ExitReply()
    {
        VmExit? exit = _debugger.Vm.Exit;
        return exit?.DebugExitStatus is int status ? $"W{(status & 0xFF):x2}" : exit?.Kind == VmExitKind.HaltedForever ? "W00" : "X09";
    }

    private string StopReply()
    {
        if (_debugger.State == DebugState.Exited)
            return ExitReply();
        DebugStop trap = _debugger.LastStop.Trap;
        string reason = trap.Kind switch
        {
            DebugStopKind.Watchpoint => $"{WatchName(trap.Access)}:{trap.Address:x};",
            DebugStopKind.Breakpoint when IsSoftwareBreakpoint(trap.Address) => "swbreak:;",
            DebugStopKind.Breakpoint => "hwbreak:;",
            _ => "",
        };
        _selected = _debugger.LastStop.Processor;
        return $"T05{reason}thread:{ThreadIdOf(_debugger.LastStop.Processor)};";
    }

    // Read on the guest's thread for a stop reply, changed on the stub's.
    private bool IsSoftwareBreakpoint(uint address)
    {
        lock (_softwareBreakpoints)
            return _softwareBreakpoints.Contains(address);
    }

    private static string WatchName(WatchKind kind) => kind switch
    {
        WatchKind.Write => "watch",
        WatchKind.Read => "rwatch",
        _ => "awatch",
    };

    // ---- Packets -----------------------------------------------------------------------------

    /// <summary>Answers one packet; false to drop the client.</summary>
    private bool Handle(string packet, byte[] raw)
    {
        if (packet.Length == 0)
        {
            Send("");
            return true;
        }

        switch (packet[0])
        {
            case '?':
                _debugger.WaitForStop(TimeSpan.FromSeconds(5));
                Send(StopReply());
                return true;
            case 'g':
                Send(Inspect(vm => RspPacket.ToHex(I386Registers.ReadAll(Selected(vm)))) ?? "E01");
                return true;
            case 'G':
                Send(RspPacket.TryFromHex(packet[1..], out byte[] all)
                    ? Inspect(vm => { I386Registers.WriteAll(Selected(vm), all); return "OK"; }) ?? "E01"
                    : "E01");
                return true;
            case 'p':
                Send(RspPacket.TryParseHex(packet[1..], out uint reg) && reg < I386Registers.Count
                    ? Inspect(vm => RspPacket.ToHex(I386Registers.Read(Selected(vm), (int)reg))) ?? "E01"
                    : "E01");
                return true;
            case 'P':
                Send(WriteRegister(packet[1..]));
                return true;
            case 'm':
                Send(ReadMemory(packet[1..]));
                return true;
            case 'M':
                Send(WriteMemoryHex(packet[1..]));
                return true;
            case 'X':
                Send(WriteMemoryBinary(raw));
                return true;
            case 'c':
            case 's':
                // c [ADDR], s [ADDR]: resume, at ADDR when given.
                if (packet.Length > 1 && (!RspPacket.TryParseHex(packet[1..], out uint at)
                    || Inspect(vm => { vm.Processors[_debugger.LastStop.Processor].Cpu.Eip = at; return "OK"; }) == null))
                {
                    Send("E01");
                    return true;
                }

                Continue(step: packet[0] == 's');
                return true;
            case 'C':
            case 'S':
                Continue(step: packet[0] == 'S'); // the signal means nothing to a bare machine
                return true;
            case 'Z':
            case 'z':
                Send(SetTrap(packet[0] == 'Z', packet[1..]));
                return true;
            case 'H':
                Send(SelectThread(packet));
                return true;
            case 'T':
                Send(ThreadIndex(packet[1..]) is >= 0 ? "OK" : "E01");
                return true;
            case 'k':
                _debugger.Vm.RequestStop();
                return false;
            case 'D':
                Send("OK");
                return false;
            case 'v':
                return HandleV(packet);
            case 'Q' when packet == "QStartNoAckMode":
                Send("OK"); // acknowledged in the old mode, then no more acks
                _noAck = true;
                return true;
            case 'q':
            case 'Q':
                Send(HandleQuery(packet));
                return true;
            default:
                Send(""); // unsupported: the protocol's empty reply
                return true;
        }
    }

    private bool HandleV(string packet)
    {
        if (packet == "vCont?")
        {
            Send("vCont;c;C;s;S");
            return true;
        }

        if (packet.StartsWith("vCont;", StringComparison.Ordinal))
        {
            // Actions in order; the first that names our thread, all threads, or no thread decides.
            foreach (string action in packet["vCont;".Length..].Split(';'))
            {
                string[] parts = action.Split(':');
                if (parts.Length > 1 && ThreadIndex(parts[1]) == -2)
                    continue;
                switch (parts[0].Length > 0 ? parts[0][0] : ' ')
                {
                    case 'c':
                    case 'C':
                        Continue(step: false);
                        return true;
                    case 's':
                    case 'S':
                        Continue(step: true);
                        return true;
                }
            }

            Send("E01");
            return true;
        }

        if (packet.StartsWith("vKill", StringComparison.Ordinal))
        {
            _debugger.Vm.RequestStop();
            Send("OK");
            return false;
        }

        Send("");
        return true;
    }

    private string HandleQuery(string packet)
    {
        if (packet.StartsWith("qSupported", StringComparison.Ordinal))
            return $"PacketSize={PacketSize:x};qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+";
        if (packet == "qAttached")
            return "1";
        if (packet == "qC")
            return $"QC{ThreadIdOf(_debugger.LastStop.Processor)}";
        if (packet == "qfThreadInfo")
            return "m" + string.Join(',', Enumerable.Range(0, _debugger.Vm.Processors.Count).Select(ThreadIdOf));
        if (packet.StartsWith("qThreadExtraInfo,", StringComparison.Ordinal))
            return ThreadIndex(packet["qThreadExtraInfo,".Length..]) is int t and >= 0
                ? RspPacket.ToHex(System.Text.Encoding.ASCII.GetBytes($"CPU {t}"))
                : "E01";
        if (packet == "qsThreadInfo")
            return "l";
        if (packet.StartsWith("qXfer:features:read:", StringComparison.Ordinal))
            return FeatureRead(packet["qXfer:features:read:".Length..]);
        if (packet.StartsWith("qRcmd,", StringComparison.Ordinal))
            return Monitor(packet["qRcmd,".Length..]);
        return "";
    }

    /// <summary>qXfer:features:read:ANNEX:OFFSET,LENGTH: a slice of the target description, 'm' for more, 'l' for the last.</summary>
    private static string FeatureRead(string request)
    {
        int colon = request.LastIndexOf(':');
        if (colon < 0)
            return "E00";
        string annex = request[..colon];
        string[] range = request[(colon + 1)..].Split(',');
        if (annex != TargetDescription.Annex)
            return "E00";
        if (range.Length != 2 || !RspPacket.TryParseHex(range[0], out uint offset) || !RspPacket.TryParseHex(range[1], out uint length))
            return "E00";
        string xml = TargetDescription.Xml;
        if (offset >= xml.Length)
            return "l";
        int n = (int)Math.Min(length, (uint)(xml.Length - (int)offset));
        return (offset + n >= xml.Length ? "l" : "m") + xml.Substring((int)offset, n);
    }

    private string Monitor(string hex)
    {
        if (!RspPacket.TryFromHex(hex, out byte[] bytes))
            return "E01";
        string command = Encoding.UTF8.GetString(bytes);
        string? output = Inspect(vm => _monitor.Execute(vm, command));
        if (output == null)
            return "E01";

        // The output as console packets ('O' + hex), then the final OK.
        const int chunk = PacketSize / 2 - 16;
        for (int at = 0; at < output.Length; at += chunk)
            Send("O" + RspPacket.TextToHex(output.Substring(at, Math.Min(chunk, output.Length - at))));
        return "OK";
    }

    private void Continue(bool step)
    {
        if (_debugger.State == DebugState.Exited)
        {
            Send(ExitReply());
            return;
        }

        _awaitingStop = true;
        _debugger.Resume(step);
    }

    private string? Inspect(Func<Vm, string> request) => _debugger.Inspect(request);

    private static string ThreadIdOf(int processor) => (processor + 1).ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    private MiniHv.Cpu.Cpu Selected(Vm vm) => vm.Processors[Math.Min(_selected, vm.Processors.Count - 1)].Cpu;

    /// <summary>
    /// A thread id as gdb sends it ("3", "p1.3", and "-1" or "0" for any): the processor's index, -1 for any thread,
    /// or -2 when no processor has it.
    /// </summary>
    private int ThreadIndex(string id)
    {
        if (id.StartsWith("p1.", StringComparison.Ordinal))
            id = id[3..];
        if (id is "-1" or "0")
            return -1;
        return RspPacket.TryParseHex(id, out uint n) && n >= 1 && n <= _debugger.Vm.Processors.Count ? (int)n - 1 : -2;
    }

    /// <summary>Hg/Hc THREAD: which processor later register and memory packets use (Hc is accepted: a step is the stopped processor's).</summary>
    private string SelectThread(string packet)
    {
        if (packet.Length < 2)
            return "E01";
        int index = ThreadIndex(packet[2..]);
        if (index == -2)
            return "E01";
        if (packet[1] == 'g' && index >= 0)
            _selected = index;
        return "OK";
    }

    private string WriteRegister(string args)
    {
        int eq = args.IndexOf('=');
        if (eq < 0 || !RspPacket.TryParseHex(args[..eq], out uint reg) || reg >= I386Registers.Count
            || !RspPacket.TryFromHex(args[(eq + 1)..], out byte[] value))
            return "E01";
        return Inspect(vm => I386Registers.Write(Selected(vm), (int)reg, value) ? "OK" : "E01") ?? "E01";
    }

    private static bool TryAddressLength(string text, out uint address, out uint length)
    {
        length = 0;
        string[] parts = text.Split(',');
        address = 0;
        return parts.Length == 2 && RspPacket.TryParseHex(parts[0], out address) && RspPacket.TryParseHex(parts[1], out length);
    }

    private string ReadMemory(string args)
    {
        if (!TryAddressLength(args, out uint address, out uint length) || length > PacketSize / 2)
            return "E01";
        return Inspect(vm =>
        {
            byte[] bytes = DebugMemory.Read(vm, address, (int)length, Selected(vm));
            return bytes.Length == 0 && length > 0 ? "E14" : RspPacket.ToHex(bytes);
        }) ?? "E01";
    }

    private string WriteMemoryHex(string args)
    {
        int colon = args.IndexOf(':');
        if (colon < 0 || !TryAddressLength(args[..colon], out uint address, out uint length)
            || !RspPacket.TryFromHex(args[(colon + 1)..], out byte[] data) || data.Length != length)
            return "E01";
        return Inspect(vm => DebugMemory.Write(vm, address, data, Selected(vm)) ? "OK" : "E14") ?? "E01";
    }

    private string WriteMemoryBinary(byte[] raw)
    {
        int colon = Array.IndexOf(raw, (byte)':');
        if (colon < 0 || !TryAddressLength(RspPacket.Latin1.GetString(raw, 1, colon - 1), out uint address, out uint length))
            return "E01";
        byte[] data = RspPacket.Unescape(raw.AsSpan(colon + 1));
        if (data.Length != length)
            return "E01";
        if (length == 0)
            return "OK"; // gdb's probe for X support
        return Inspect(vm => DebugMemory.Write(vm, address, data, Selected(vm)) ? "OK" : "E14") ?? "E01";
    }

    /// <summary>Z/z TYPE,ADDR,KIND: breakpoints (0 software, 1 hardware, both kept in the emulator) and watchpoints (2 write, 3 read, 4 access).</summary>
    private string SetTrap(bool insert, string args)
    {
        string[] parts = args.Split(',', 3);
        if (parts.Length < 3 || parts[0].Length != 1 || !RspPacket.TryParseHex(parts[1], out uint address))
            return "E01";
        string kindText = parts[2].Split(';')[0];
        if (!RspPacket.TryParseHex(kindText, out uint length))
            return "E01";
        switch (parts[0][0])
        {
            case '0':
            case '1':
                lock (_softwareBreakpoints)
                {
                    HashSet<uint> set = parts[0][0] == '0' ? _softwareBreakpoints : _hardwareBreakpoints;
                    if (insert)
                        set.Add(address);
                    else
                        set.Remove(address);
                    _debugger.SetBreakpoint(address, _softwareBreakpoints.Contains(address) || _hardwareBreakpoints.Contains(address));
                }

                return "OK";
            case '2':
            case '3':
            case '4':
                if (length == 0)
                    return "E01";
                WatchKind kind = parts[0][0] switch { '2' => WatchKind.Write, '3' => WatchKind.Read, _ => WatchKind.Access };
                _debugger.SetWatchpoint(new Watchpoint(address, length, kind), insert);
                return "OK";
            default:
                return ""; // a kind we do not know: unsupported
        }
    }
}

namespace MiniHv.Cli.Qemu;

/// <summary>The files a QEMU command line names, opened before anything runs: -serial file:F and -D's log.</summary>
internal sealed class QemuOutputs : IDisposable
{
    private readonly FileStream? _serialFile;
    private readonly StreamWriter? _logFile;

    private QemuOutputs(Stream serial, FileStream? serialFile, TextWriter log, StreamWriter? logFile)
    {
        Serial = serial;
        _serialFile = serialFile;
        Log = log;
        _logFile = logFile;
    }

    /// <summary>Where COM1's bytes go: stdout, the -serial file, or nowhere.</summary>
    public Stream Serial { get; }

    /// <summary>Where the -d items go: the -D file (created or emptied, as QEMU does) or stderr.</summary>
    public TextWriter Log { get; }

    /// <summary>Opens the outputs; null with the message when a file cannot be written.</summary>
    public static QemuOutputs? Open(QemuSettings settings, CliStreams streams, out string error)
    {
        error = "";
        FileStream? serialFile = null;
        StreamWriter? logFile = null;
        string current = "";
        try
        {
            if (settings.Serial == QemuSerial.File)
            {
                current = $"-serial file:{settings.SerialFile}";
                serialFile = new FileStream(settings.SerialFile!, FileMode.Create, FileAccess.Write, FileShare.Read);
            }

            if (settings.LogPath != null)
            {
                current = $"-D '{settings.LogPath}'";
                logFile = new StreamWriter(new FileStream(settings.LogPath, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            serialFile?.Dispose();
            error = $"{current}: {e.Message}";
            return null;
        }

        Stream serial = settings.Serial switch
        {
            QemuSerial.File => serialFile!,
            QemuSerial.Null => Stream.Null,
            _ => streams.SerialOut,
        };
        TextWriter log = logFile != null ? TextWriter.Synchronized(logFile) : streams.Error;
        return new QemuOutputs(serial, serialFile, log, logFile);
    }

    public void Dispose()
    {
        _serialFile?.Dispose();
        _logFile?.Dispose();
    }
}

using System.Text;
using System.Text.RegularExpressions;
using MiniHv.Cli;
using MiniHv.Tests.Cli;

namespace MiniHv.Tests.Debugging;

/// <summary>
/// A <c>minihv run --gdb tcp::0</c> in-process on a thread of its own, so a test can talk to its stub: the port
/// the stub picked is read from its "listening on" line on stderr.
/// </summary>
internal sealed partial class BackgroundRun
{
    private readonly Task<int> _run;
    private readonly LineWriter _error = new();
    private readonly StringWriter _output = new();
    private readonly MemoryStream _serial = new();

    public BackgroundRun(params string[] args)
    {
        var streams = new CliStreams(new SynchronizedStream(_serial), null, TextWriter.Synchronized(_output), _error);
        _run = Task.Factory.StartNew(() => Program.Invoke(args, streams), TaskCreationOptions.LongRunning);
        Match listening = _error.WaitFor(ListeningLine(), TimeSpan.FromSeconds(60), () => _run.IsCompleted);
        Assert.That(listening.Success, Is.True, () => $"no 'listening on' line from minihv: {Finish()}");
        Port = int.Parse(listening.Groups[1].Value);
    }

    public int Port { get; }

    /// <summary>Waits for the run to end (a broken test, not a slow one, would hit the limit) and returns what it did.</summary>
    public CliResult Finish()
    {
        Assert.That(_run.Wait(TimeSpan.FromSeconds(120)), Is.True, "minihv did not finish");
        return new CliResult(_run.Result, Encoding.UTF8.GetString(_serial.ToArray()), _output.ToString(), _error.Text);
    }

    [GeneratedRegex(@"listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();

    /// <summary>A thread-safe stderr that wakes a waiter at each write.</summary>
    private sealed class LineWriter : TextWriter
    {
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_text)
                    return _text.ToString();
            }
        }

        public override void Write(char value)
        {
            lock (_text)
            {
                _text.Append(value);
                Monitor.PulseAll(_text);
            }
        }

        public override void Write(string? value)
        {
            lock (_text)
            {
                _text.Append(value);
                Monitor.PulseAll(_text);
            }
        }

        public Match WaitFor(Regex pattern, TimeSpan limit, Func<bool> gaveUp)
        {
            var deadline = DateTime.UtcNow + limit;
            lock (_text)
            {
                while (true)
                {
                    Match m = pattern.Match(_text.ToString());
                    if (m.Success || gaveUp() || DateTime.UtcNow > deadline)
                        return m;
                    Monitor.Wait(_text, TimeSpan.FromMilliseconds(100));
                }
            }
        }
    }

    /// <summary>The guests' COM1 bytes come from several threads.</summary>
    private sealed class SynchronizedStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
            lock (inner)
                inner.Flush();
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (inner)
                inner.Write(buffer, offset, count);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

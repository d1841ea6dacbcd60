using System.Diagnostics;

namespace MiniHv.Cli.Qemu;

/// <summary>
/// Puts the terminal on stdin in the mode QEMU's stdio console uses while the guest runs, and back after:
/// bytes arrive one at a time, unechoed and untranslated, and Ctrl-C reaches the guest instead of ending the
/// run (Ctrl-A x ends it); output processing stays on. Done with stty, on stdin's own terminal.
/// </summary>
internal sealed class QemuTerminal : IDisposable
{
    private readonly string _saved;

    private QemuTerminal(string saved) => _saved = saved;

    /// <summary>Raw mode when stdin is a terminal (null otherwise, or when stty is not there).</summary>
    public static QemuTerminal? Raw()
    {
        if (Console.IsInputRedirected)
            return null;
        string? saved = Stty("-g");
        if (saved == null)
            return null;
        Stty("-ignbrk -brkint -parmrk -istrip -inlcr -igncr -icrnl -ixon opost -echo -echonl -icanon -iexten -isig cs8 -parenb min 1 time 0");
        return new QemuTerminal(saved.Trim());
    }

    public void Dispose() => Stty(_saved);

    /// <summary>Runs stty on the inherited stdin; its output, or null when it could not run or failed.</summary>
    private static string? Stty(string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("stty", arguments) { RedirectStandardOutput = true, UseShellExecute = false };
            using Process? stty = Process.Start(start);
            if (stty == null)
                return null;
            string output = stty.StandardOutput.ReadToEnd();
            stty.WaitForExit();
            return stty.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// A config file's paths are relative to the file's directory; a run's are as typed on the command line, relative
/// to the current directory. Absolute paths stay as they are both ways.
/// </summary>
internal static class ConfigPaths
{
    /// <summary>The directory a config file's relative paths start from; "-" (standard output) has the current one.</summary>
    public static string DirectoryOf(string configFile)
        => configFile == "-" ? Environment.CurrentDirectory : Path.GetDirectoryName(Path.GetFullPath(configFile))!;

    /// <summary>A path written in a config file in <paramref name="directory"/>, as the command line would give it.</summary>
    public static string FromFile(string directory, string path)
        => Path.IsPathRooted(path) ? path : Path.GetRelativePath(Environment.CurrentDirectory, Path.GetFullPath(Path.Combine(directory, path)));

    /// <summary>A path from the command line, as a config file in <paramref name="directory"/> writes it.</summary>
    public static string ToFile(string directory, string path)
        => Path.IsPathRooted(path) ? path : Path.GetRelativePath(directory, Path.GetFullPath(path));
}

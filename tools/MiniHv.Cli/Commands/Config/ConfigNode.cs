namespace MiniHv.Cli.Commands.Config;

/// <summary>A place in a config file: line and column from 1, as editors and compilers count them.</summary>
internal readonly record struct ConfigPosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>What a scalar is, after YAML's plain-scalar rules or JSON's token types.</summary>
internal enum ScalarKind
{
    String,
    Number,
    Boolean,
    Null,
}

/// <summary>
/// One node of a config file, YAML or JSON alike, with where it starts: the tree the schema checks, so that both
/// formats give the same messages at the same kind of position.
/// </summary>
internal abstract record ConfigNode(ConfigPosition At);

/// <summary>A string, number, true/false or null, with its text as written (a number's digits, a string's value).</summary>
internal sealed record ConfigScalar(ConfigPosition At, ScalarKind Kind, string Text) : ConfigNode(At);

internal sealed record ConfigSequence(ConfigPosition At, IReadOnlyList<ConfigNode> Items) : ConfigNode(At);

/// <summary>Keys in file order; the parsers refuse a key that appears twice.</summary>
internal sealed record ConfigMapping(ConfigPosition At, IReadOnlyList<ConfigEntry> Entries) : ConfigNode(At);

/// <summary>One key and its value; the key's position is the one errors about the value point at.</summary>
internal sealed record ConfigEntry(string Key, ConfigPosition KeyAt, ConfigNode Value);

/// <summary>A config file that cannot be used; the message is the whole line after "minihv: ", position first.</summary>
internal sealed class RunConfigException : Exception
{
    public RunConfigException(string message)
        : base(message)
    {
    }

    public RunConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>"FILE:LINE:COLUMN: message", the form compilers use, so editors can jump to it.</summary>
    public static RunConfigException At(string file, ConfigPosition at, string message) => new($"{file}:{at}: {message}");
}

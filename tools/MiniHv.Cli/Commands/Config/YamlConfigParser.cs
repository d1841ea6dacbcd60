using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// A YAML config file as a <see cref="ConfigNode"/> tree, read from YamlDotNet's parsing events so that every node
/// keeps its line and column. Plain scalars are typed by YAML 1.2's core schema (<c>true</c>, <c>12</c>, <c>~</c>);
/// quoted and block scalars are strings. Aliases (<c>*name</c>) stand for the node their anchor marks.
/// </summary>
internal static partial class YamlConfigParser
{
    /// <summary>Deeper than any config needs; a bound so that a hostile file cannot exhaust the stack.</summary>
    private const int MaxDepth = 64;

    /// <exception cref="RunConfigException">The text is not YAML, holds more than one document, or repeats a key.</exception>
    public static ConfigNode Parse(string text, string file)
    {
        var reader = new Reader(new Parser(new StringReader(text)), file);
        try
        {
            return reader.ReadStream();
        }
        catch (YamlException e)
        {
            throw RunConfigException.At(file, PositionOf(e.Start), e.Message.TrimEnd('.'));
        }
    }

    private static ConfigPosition PositionOf(Mark mark) => new((int)mark.Line, (int)mark.Column);

    /// <summary>YAML 1.2 core schema for plain scalars; anything else plain is a string.</summary>
    private static ScalarKind KindOf(Scalar scalar)
        => scalar.Style != ScalarStyle.Plain || (!scalar.Tag.IsEmpty && scalar.Tag.Value == "tag:yaml.org,2002:str")
            ? ScalarKind.String
            : KindOfPlain(scalar.Value);

    private static ScalarKind KindOfPlain(string text)
        => text switch
        {
            "" or "~" or "null" or "Null" or "NULL" => ScalarKind.Null,
            "true" or "True" or "TRUE" or "false" or "False" or "FALSE" => ScalarKind.Boolean,
            _ when NumberPattern().IsMatch(text) => ScalarKind.Number,
            _ => ScalarKind.String,
        };

    /// <summary>Whether a string written as a plain scalar would read back as something else (a number, true, null).</summary>
    public static bool PlainWouldChangeType(string text) => KindOfPlain(text) != ScalarKind.String;

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberPattern();

    private sealed class Reader(Parser parser, string file)
    {
        private readonly Dictionary<string, ConfigNode> _anchors = new();

        public ConfigNode ReadStream()
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out var empty))
                return new ConfigMapping(PositionOf(empty.Start), []);
            parser.Consume<DocumentStart>();
            ConfigNode root = ReadNode(0);
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
                throw RunConfigException.At(file, PositionOf(second.Start), "a config file holds one YAML document, not several");
            parser.Consume<StreamEnd>();
            return root;
        }

        private ConfigNode ReadNode(int depth)
        {
            ParsingEvent start = parser.Current!;
            ConfigPosition at = PositionOf(start.Start);
            if (depth > MaxDepth)
                throw RunConfigException.At(file, at, $"nested more than {MaxDepth} levels deep");
            parser.MoveNext();
            ConfigNode node;
            switch (start)
            {
                case AnchorAlias alias:
                    return _anchors.TryGetValue(alias.Value.Value, out ConfigNode? target)
                        ? target
                        : throw RunConfigException.At(file, at, $"alias '*{alias.Value.Value}' has no anchor '&{alias.Value.Value}' before it");
                case Scalar scalar:
                    node = new ConfigScalar(at, KindOf(scalar), scalar.Value);
                    break;
                case SequenceStart:
                    var items = new List<ConfigNode>();
                    while (!parser.TryConsume<SequenceEnd>(out _))
                        items.Add(ReadNode(depth + 1));
                    node = new ConfigSequence(at, items);
                    break;
                case MappingStart:
                    node = ReadMapping(at, depth);
                    break;
                default:
                    throw RunConfigException.At(file, at, $"unexpected {start.GetType().Name}");
            }

            if (start is NodeEvent { Anchor.IsEmpty: false } anchored)
                _anchors[anchored.Anchor.Value] = node;
            return node;
        }

        private ConfigMapping ReadMapping(ConfigPosition at, int depth)
        {
            var entries = new List<ConfigEntry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                ConfigNode key = ReadNode(depth + 1);
                if (key is not ConfigScalar { Kind: not ScalarKind.Null } name)
                    throw RunConfigException.At(file, key.At, "a key is a name such as sharing or image");
                if (!seen.Add(name.Text))
                    throw RunConfigException.At(file, key.At, $"key '{name.Text}' appears twice");
                entries.Add(new ConfigEntry(name.Text, key.At, ReadNode(depth + 1)));
            }

            return new ConfigMapping(at, entries);
        }
    }
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniHv.Cli.Commands.Config;

/// <summary>
/// A JSON config file as a <see cref="ConfigNode"/> tree, read token by token with <see cref="Utf8JsonReader"/>
/// so that every node keeps its line and column (the reader gives byte offsets; lines and columns are counted
/// here). Comments and trailing commas are allowed, as people write configs by hand.
/// </summary>
internal static partial class JsonConfigParser
{
    private static readonly JsonReaderOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <exception cref="RunConfigException">The bytes are not JSON, or an object repeats a key.</exception>
    public static ConfigNode Parse(byte[] bytes, string file)
    {
        ReadOnlySpan<byte> utf8 = bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes.AsSpan(3) : bytes;
        var lines = new LineMap(utf8.ToArray());
        var reader = new Utf8JsonReader(utf8, Options);
        try
        {
            if (!reader.Read())
                return new ConfigMapping(new ConfigPosition(1, 1), []);
            ConfigNode root = ReadValue(ref reader, lines, file);
            if (reader.Read())
                throw RunConfigException.At(file, lines.PositionOf(reader.TokenStartIndex), "more after the end of the JSON value");
            return root;
        }
        catch (JsonException e) when (e.LineNumber is long line && e.BytePositionInLine is long column)
        {
            throw RunConfigException.At(file, lines.PositionOf((int)line, (int)column), PositionSuffix().Replace(e.Message, "").TrimEnd('.'));
        }
        catch (InvalidOperationException e)
        {
            // The reader's refusal of a string that is not UTF-8.
            throw RunConfigException.At(file, lines.PositionOf(reader.TokenStartIndex), e.Message.TrimEnd('.'));
        }
    }

    /// <summary>The reader's own " LineNumber: 2 | BytePositionInLine: 5." that we replace with FILE:LINE:COLUMN.</summary>
    [GeneratedRegex(@"\s*LineNumber: \d+ \| BytePositionInLine: \d+\.?$")]
    private static partial Regex PositionSuffix();

    /// <summary>The value whose first token the reader is on; leaves the reader on its last token.</summary>
    private static ConfigNode ReadValue(ref Utf8JsonReader reader, LineMap lines, string file)
    {
        ConfigPosition at = lines.PositionOf(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var entries = new List<ConfigEntry>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    ConfigPosition keyAt = lines.PositionOf(reader.TokenStartIndex);
                    string key = reader.GetString()!;
                    if (!seen.Add(key))
                        throw RunConfigException.At(file, keyAt, $"key '{key}' appears twice");
                    reader.Read();
                    entries.Add(new ConfigEntry(key, keyAt, ReadValue(ref reader, lines, file)));
                }

                return new ConfigMapping(at, entries);
            case JsonTokenType.StartArray:
                var items = new List<ConfigNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, lines, file));
                return new ConfigSequence(at, items);
            case JsonTokenType.String:
                return new ConfigScalar(at, ScalarKind.String, reader.GetString()!);
            case JsonTokenType.Number:
                return new ConfigScalar(at, ScalarKind.Number, Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True or JsonTokenType.False:
                return new ConfigScalar(at, ScalarKind.Boolean, reader.GetBoolean() ? "true" : "false");
            case JsonTokenType.Null:
                return new ConfigScalar(at, ScalarKind.Null, "null");
            default:
                throw RunConfigException.At(file, at, $"unexpected {reader.TokenType}");
        }
    }

    /// <summary>Byte offsets to lines and columns: columns count characters, not bytes.</summary>
    private sealed class LineMap
    {
        private readonly byte[] _bytes;
        private readonly List<int> _lineStarts = [0];

        public LineMap(byte[] bytes)
        {
            _bytes = bytes;
            for (int i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == '\n')
                    _lineStarts.Add(i + 1);
            }
        }

        public ConfigPosition PositionOf(long offset)
        {
            int index = _lineStarts.BinarySearch((int)offset);
            int line = index >= 0 ? index : ~index - 1;
            return PositionOf(line, (int)offset - _lineStarts[line]);
        }

        /// <summary>Line from 0 and byte within it from 0, as <see cref="JsonException"/> reports them.</summary>
        public ConfigPosition PositionOf(int line, int byteInLine)
        {
            int start = _lineStarts[Math.Min(line, _lineStarts.Count - 1)];
            int end = Math.Min(start + byteInLine, _bytes.Length);
            int characters = 0;
            for (int i = start; i < end; i++)
            {
                if ((_bytes[i] & 0xC0) != 0x80)
                    characters++;
            }

            return new ConfigPosition(line + 1, characters + 1);
        }
    }
}

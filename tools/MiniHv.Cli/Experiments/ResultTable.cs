using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MiniHv.Cli.Experiments;

/// <summary>
/// An experiment's rows as results.csv and results.json, column by column: each column a name and how its value is
/// read off a row. JSON keeps strings, booleans and numbers as such; anything else is written as its CSV text.
/// </summary>
internal static class ResultTable
{
    /// <summary>A header line of the column names, then one line per row, each value through <paramref name="format"/>.</summary>
    public static void WriteCsv<T>(string path, IReadOnlyList<T> rows, IReadOnlyList<(string Name, Func<T, object> Value)> columns,
        Func<object, string> format)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', columns.Select(c => c.Name)).Append('\n');
        foreach (T r in rows)
            sb.AppendJoin(',', columns.Select(c => format(c.Value(r)))).Append('\n');
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>An array of one object per row, its properties the columns.</summary>
    public static void WriteJson<T>(string path, IReadOnlyList<T> rows, IReadOnlyList<(string Name, Func<T, object> Value)> columns,
        Func<object, string> format)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartArray();
        foreach (T r in rows)
        {
            json.WriteStartObject();
            foreach (var (name, value) in columns)
            {
                switch (value(r))
                {
                    case string s: json.WriteString(name, s); break;
                    case bool b: json.WriteBoolean(name, b); break;
                    case double d: json.WriteNumber(name, d); break;
                    case int i: json.WriteNumber(name, i); break;
                    case long l: json.WriteNumber(name, l); break;
                    case object o: json.WriteString(name, format(o)); break;
                }
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>A value as the CSV writes it: invariant culture, doubles to four decimals, booleans as given.</summary>
    public static string Format(object value, string trueText, string falseText) => value switch
    {
        bool b => b ? trueText : falseText,
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

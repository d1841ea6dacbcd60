using System.Globalization;

namespace MiniHv.Cli.Report;

/// <summary>How the tables show a value; json and csv always carry the exact value.</summary>
internal enum ValueKind
{
    /// <summary>A word from the file, or nothing.</summary>
    Text,

    /// <summary>A count, shown as the file has it.</summary>
    Count,

    /// <summary>A fraction from 0 to 1, shown as a percentage with one decimal.</summary>
    Fraction,

    /// <summary>Host seconds, shown with three decimals.</summary>
    Seconds,

    /// <summary>A rate or a speed, shown with <see cref="ReportValue.Decimals"/> decimals.</summary>
    Rate,
}

/// <summary>
/// One value of a report: the exact number or word (from the file, or derived from it as the report's
/// documentation says) and how the tables round it for reading. Null is a value the file does not have.
/// </summary>
internal readonly record struct ReportValue(object? Exact, ValueKind Kind, int Decimals = 0)
{
    public static readonly ReportValue None = new(null, ValueKind.Text);

    public static ReportValue Word(string? text) => new(text, ValueKind.Text);

    public static ReportValue Count(long value) => new(value, ValueKind.Count);

    public static ReportValue Count(long? value) => value is long v ? Count(v) : None;

    public static ReportValue Fraction(double? value) => value is double v ? new(v, ValueKind.Fraction) : None;

    public static ReportValue Seconds(double? value) => value is double v ? new(v, ValueKind.Seconds) : None;

    public static ReportValue Rate(double? value, int decimals) => value is double v ? new(v, ValueKind.Rate, decimals) : None;

    public bool IsNone => Exact == null;

    /// <summary>Whether a table right-aligns it.</summary>
    public bool IsNumber => Exact is long or double;

    /// <summary>As a table shows it: counts verbatim, fractions as percentages, seconds and rates rounded; "-" for none.</summary>
    public string Text => Exact switch
    {
        null => "-",
        string s => s,
        long n => n.ToString(CultureInfo.InvariantCulture),
        double d when !double.IsFinite(d) => "n/a",
        double d => Kind switch
        {
            ValueKind.Fraction => (d * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            ValueKind.Seconds => d.ToString("0.000", CultureInfo.InvariantCulture),
            ValueKind.Rate => d.ToString(Decimals == 0 ? "0" : "0." + new string('0', Decimals), CultureInfo.InvariantCulture),
            _ => d.ToString("R", CultureInfo.InvariantCulture),
        },
        _ => Convert.ToString(Exact, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>The exact value as text, for csv: counts verbatim, fractions and seconds in full (round-trip) precision; empty for none.</summary>
    public string ExactText => Exact switch
    {
        null => "",
        string s => s,
        long n => n.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(Exact, CultureInfo.InvariantCulture) ?? "",
    };
}

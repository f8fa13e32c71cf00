using System.Globalization;
using System.Text.RegularExpressions;

namespace LoraBuild.Training.Data;

/// <summary>
/// A split with an optional slice, as datasets' ReadInstruction reads it: <c>train</c>, <c>train[:10%]</c>,
/// <c>train[100:200]</c>, <c>train[-10%:]</c>. Percent bounds round to the nearest row (datasets' default "closest" rounding).
/// </summary>
public sealed record DatasetSplit(string Name, string? From, string? To)
{
    static readonly Regex Pattern = new(@"^(?<name>[\w.\-]+)(\[(?<from>-?\d+%?)?:(?<to>-?\d+%?)?\])?$", RegexOptions.CultureInvariant);

    public static DatasetSplit? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return new DatasetSplit("train", null, null);
        var m = Pattern.Match(text.Replace(" ", ""));
        if (!m.Success) return null;
        return new DatasetSplit(m.Groups["name"].Value, m.Groups["from"].Success ? m.Groups["from"].Value : null, m.Groups["to"].Success ? m.Groups["to"].Value : null);
    }

    /// <summary>Whether the slice depends on the row count (a percent or a bound from the end); otherwise rows can stream.</summary>
    public bool NeedsCount => IsRelative(From) || IsRelative(To);

    static bool IsRelative(string? bound) => bound is not null && (bound.EndsWith('%') || bound.StartsWith('-'));

    /// <summary>The [start, end) rows of <paramref name="count"/> this slice keeps.</summary>
    public (int Start, int End) Range(int count)
    {
        int Bound(string? bound, int fallback)
        {
            if (bound is null) return fallback;
            var percent = bound.EndsWith('%');
            var value = double.Parse(percent ? bound[..^1] : bound, CultureInfo.InvariantCulture);
            var rows = percent ? (int)Math.Round(count * value / 100, MidpointRounding.ToEven) : (int)value;
            if (rows < 0) rows += count;
            return Math.Clamp(rows, 0, count);
        }
        var start = Bound(From, 0);
        return (start, Math.Max(start, Bound(To, count)));
    }
}

using System.Text.Json;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>What happens to the delimiter when a piece is split (HF SplitDelimiterBehavior).</summary>
public enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

internal static class SplitBehaviorParser
{
    public static SplitBehavior? Read(JsonElement e, string path, ComponentReader reader, SplitBehavior? fallback = null)
    {
        var name = ComponentReader.String(e, "behavior");
        if (name is null)
        {
            if (fallback is null) reader.Invalid(path, "behavior is missing");
            return fallback;
        }
        if (Enum.TryParse<SplitBehavior>(name, ignoreCase: false, out var behavior)) return behavior;
        reader.Unsupported(path, $"split behavior '{name}' is unknown");
        return null;
    }
}

/// <summary>
/// Splits one piece at given delimiter ranges with a behaviour, as NormalizedString::split: the input ranges cover the
/// text in order, each flagged as a delimiter (match) or not; empty results are dropped.
/// </summary>
internal static class Splitter
{
    public static void Apply(Piece piece, List<(int Start, int End, bool IsMatch)> ranges, SplitBehavior behavior, List<Piece> output)
    {
        var merged = new List<(int Start, int End)>(ranges.Count);
        var previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var r in ranges) if (!r.IsMatch) merged.Add((r.Start, r.End));
                break;
            case SplitBehavior.Isolated:
                foreach (var r in ranges) merged.Add((r.Start, r.End));
                break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var r in ranges)
                {
                    if (r.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (merged[^1].Start, r.End);
                    else merged.Add((r.Start, r.End));
                    previousMatch = r.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (var i = ranges.Count - 1; i >= 0; i--)
                {
                    var r = ranges[i];
                    if (r.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (r.Start, merged[^1].End);
                    else merged.Add((r.Start, r.End));
                    previousMatch = r.IsMatch;
                }
                merged.Reverse();
                break;
            case SplitBehavior.Contiguous:
                for (var i = 0; i < ranges.Count; i++)
                {
                    var r = ranges[i];
                    if (i > 0 && r.IsMatch == previousMatch) merged[^1] = (merged[^1].Start, r.End);
                    else merged.Add((r.Start, r.End));
                    previousMatch = r.IsMatch;
                }
                break;
        }
        foreach (var (start, end) in merged)
            if (end > start) output.Add(new Piece(piece.Text[start..end], piece.AtStart && start == 0));
    }

    /// <summary>Ranges of a regex's matches and the text between them; <paramref name="invert"/> swaps the flags.</summary>
    public static List<(int Start, int End, bool IsMatch)> RegexRanges(System.Text.RegularExpressions.Regex regex, string text, bool invert)
    {
        var ranges = new List<(int, int, bool)>();
        var previous = 0;
        int[]? map = null;
        var matched = text;
        if (AstralText.HasSurrogates(text)) (matched, map) = AstralText.Substitute(text);
        foreach (System.Text.RegularExpressions.ValueMatch m in regex.EnumerateMatches(matched))
        {
            var start = map?[m.Index] ?? m.Index;
            var end = map?[m.Index + m.Length] ?? m.Index + m.Length;
            if (start > previous) ranges.Add((previous, start, invert));
            ranges.Add((start, end, !invert));
            previous = end;
        }
        if (previous < text.Length) ranges.Add((previous, text.Length, invert));
        return ranges;
    }

    /// <summary>Ranges where each character for which <paramref name="isDelimiter"/> holds is its own match.</summary>
    public static List<(int Start, int End, bool IsMatch)> CharRanges(string text, Func<string, int, bool> isDelimiter)
    {
        var ranges = new List<(int, int, bool)>();
        var previous = 0;
        for (var i = 0; i < text.Length;)
        {
            var width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            if (isDelimiter(text, i))
            {
                if (i > previous) ranges.Add((previous, i, false));
                ranges.Add((i, i + width, true));
                previous = i + width;
            }
            i += width;
        }
        if (previous < text.Length) ranges.Add((previous, text.Length, false));
        return ranges;
    }
}

using LoraBuild.Templating.Jinja;

namespace LoraBuild.Training.Data;

/// <summary>
/// Maps character spans of a text onto the tokens of that text tokenised whole. A span boundary is placed by tokenising
/// the text up to it: when those ids are a prefix of the whole text's ids the boundary is between two tokens; when the
/// boundary falls inside a token (BPE merged across it), that token is counted in the span, so a learned span never
/// loses its edge tokens. Needs only the tokenizer's encode, whatever its model.
/// </summary>
public static class SpanLabels
{
    public static (int[] Ids, int[] Labels) Label(string text, IReadOnlyList<TextSpan> spans, Func<string, IReadOnlyList<int>> encode)
    {
        var ids = encode(text).ToArray();
        var labels = Enumerable.Repeat(TokenizedExample.Ignore, ids.Length).ToArray();
        var cache = new Dictionary<int, (int Clean, bool Inside)>();
        (int Clean, bool Inside) Boundary(int at)
        {
            if (at <= 0) return (0, false);
            if (at >= text.Length) return (ids.Length, false);
            if (cache.TryGetValue(at, out var known)) return known;
            var prefix = encode(text[..at]);
            var common = 0;
            while (common < prefix.Count && common < ids.Length && prefix[common] == ids[common]) common++;
            return cache[at] = (common, common < prefix.Count);
        }
        foreach (var span in spans)
        {
            var (startToken, _) = Boundary(span.Start);
            var (endToken, endInside) = Boundary(span.End);
            if (endInside) endToken = Math.Min(ids.Length, endToken + 1);
            for (var i = startToken; i < endToken; i++) labels[i] = ids[i];
        }
        return (ids, labels);
    }
}

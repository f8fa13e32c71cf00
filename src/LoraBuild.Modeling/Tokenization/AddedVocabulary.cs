using LoraBuild.Tokenization.Normalizers;

namespace LoraBuild.Tokenization;

/// <summary>
/// Finds added tokens in text before the model sees it, as HF tokenizers' AddedVocabulary: tokens with normalized=false
/// are matched in the raw text first, then each remaining piece is normalized and tokens with normalized=true are matched
/// in it. Matching is leftmost-longest; lstrip/rstrip swallow whitespace beside the token; single_word only matches
/// between non-word characters.
/// </summary>
public sealed class AddedVocabulary
{
    /// <summary>A piece of the input: either an added token's id, or text still to be pre-tokenized.</summary>
    public readonly record struct Section(int? TokenId, string Text, bool AtStart);

    sealed class TrieNode
    {
        public Dictionary<char, TrieNode>? Children;
        public AddedToken? Token;
    }

    readonly TrieNode raw = new(), normalized = new();
    readonly bool hasRaw, hasNormalized;
    readonly System.Buffers.SearchValues<char> rawFirst, normalizedFirst;

    public AddedVocabulary(IEnumerable<AddedToken> tokens, Normalizer? normalizer)
    {
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0) continue;
            if (token.Normalized)
            {
                Insert(normalized, normalizer?.Normalize(token.Content) ?? token.Content, token);
                hasNormalized = true;
            }
            else
            {
                Insert(raw, token.Content, token);
                hasRaw = true;
            }
        }
        rawFirst = System.Buffers.SearchValues.Create(raw.Children?.Keys.ToArray() ?? []);
        normalizedFirst = System.Buffers.SearchValues.Create(normalized.Children?.Keys.ToArray() ?? []);
    }

    static void Insert(TrieNode root, string content, AddedToken token)
    {
        var node = root;
        foreach (var c in content)
        {
            node.Children ??= new Dictionary<char, TrieNode>();
            if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new TrieNode();
            node = child;
        }
        node.Token ??= token;
    }

    /// <summary>Splits <paramref name="text"/> into added tokens and normalized text pieces.</summary>
    public List<Section> Split(string text, Normalizer? normalizer)
    {
        var first = new List<Section>();
        if (hasRaw) Find(raw, rawFirst, text, true, first);
        else first.Add(new Section(null, text, true));
        var result = new List<Section>(first.Count);
        foreach (var section in first)
        {
            if (section.TokenId is not null)
            {
                result.Add(section);
                continue;
            }
            var normalizedText = normalizer?.Normalize(section.Text) ?? section.Text;
            if (hasNormalized) Find(normalized, normalizedFirst, normalizedText, section.AtStart, result);
            else if (normalizedText.Length > 0) result.Add(section with { Text = normalizedText });
        }
        return result;
    }

    static void Find(TrieNode root, System.Buffers.SearchValues<char> firstChars, string text, bool atStart, List<Section> output)
    {
        var sectionStart = 0;
        var i = 0;
        while (i < text.Length)
        {
            // Jump to the next character that can start an added token.
            var skip = text.AsSpan(i).IndexOfAny(firstChars);
            if (skip < 0) break;
            i += skip;
            var (token, end) = LongestAt(root, text, i);
            if (token is null)
            {
                i++;
                continue;
            }
            if (token.SingleWord && !IsSingleWord(text, i, end))
            {
                // As aho-corasick's find_iter: the rejected match's span is not searched again.
                i = end;
                continue;
            }
            var start = i;
            if (token.LStrip)
            {
                while (start > sectionStart && char.IsWhiteSpace(text[start - 1])) start--;
            }
            if (token.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            }
            if (start > sectionStart) output.Add(new Section(null, text[sectionStart..start], atStart && sectionStart == 0));
            output.Add(new Section(token.Id, token.Content, false));
            sectionStart = end;
            i = Math.Max(end, i + 1);
        }
        if (sectionStart < text.Length) output.Add(new Section(null, text[sectionStart..], atStart && sectionStart == 0));
    }

    static (AddedToken? Token, int End) LongestAt(TrieNode root, string text, int start)
    {
        AddedToken? best = null;
        var end = start;
        var node = root;
        for (var j = start; j < text.Length; j++)
        {
            if (node.Children is null || !node.Children.TryGetValue(text[j], out node)) break;
            if (node.Token is not null)
            {
                best = node.Token;
                end = j + 1;
            }
        }
        return (best, end);
    }

    // Rust regex's \w: letters, marks, decimal digits, connector punctuation.
    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark
        or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.EnclosingMark
        or System.Globalization.UnicodeCategory.ConnectorPunctuation or System.Globalization.UnicodeCategory.LetterNumber;

    static bool IsSingleWord(string text, int start, int end) =>
        (start == 0 || !IsWordChar(text[start - 1])) && (end == text.Length || !IsWordChar(text[end]));
}

using System.Globalization;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Splits on punctuation (ASCII punctuation and the Unicode P categories).</summary>
public sealed class PunctuationPreTokenizer(SplitBehavior behavior) : PreTokenizer
{
    // Rust's char::is_ascii_punctuation (printable ASCII that is not a letter or digit) or char::is_punctuation.
    static bool IsPunctuation(string s, int i) =>
        (s[i] > ' ' && s[i] < 127 && !char.IsAsciiLetterOrDigit(s[i])) ||
        char.GetUnicodeCategory(s, i) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces) Splitter.Apply(piece, Splitter.CharRanges(piece.Text, IsPunctuation), behavior, output);
    }
}

using System.Globalization;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Splits on punctuation (ASCII punctuation and the Unicode P categories).</summary>
public sealed class PunctuationPreTokenizer(SplitBehavior behavior) : PreTokenizer
{
    static bool IsPunctuation(string s, int i) =>
        (s[i] < 128 && char.IsAsciiLetterOrDigit(s[i]) == false && s[i] > ' ' && s[i] < 127) ||
        char.GetUnicodeCategory(s, i) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces) Splitter.Apply(piece, Splitter.CharRanges(piece.Text, IsPunctuation), behavior, output);
    }
}

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Isolates digits: each one alone, or runs of them.</summary>
public sealed class DigitsPreTokenizer(bool individualDigits) : PreTokenizer
{
    // Rust's char::is_numeric: the Unicode Nd, Nl and No categories.
    static bool IsNumeric(string s, int i) => char.GetUnicodeCategory(s, i) is System.Globalization.UnicodeCategory.DecimalDigitNumber
        or System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.OtherNumber;

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces)
            Splitter.Apply(piece, Splitter.CharRanges(piece.Text, IsNumeric), individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, output);
    }
}

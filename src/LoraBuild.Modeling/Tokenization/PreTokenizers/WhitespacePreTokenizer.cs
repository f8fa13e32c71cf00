using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Words and runs of other non-space characters (\w+|[^\w\s]+); whitespace is dropped.</summary>
public sealed class WhitespacePreTokenizer : PreTokenizer
{
    // Rust regex's \w: letters, marks, decimal digits, connector punctuation (and Nl).
    static readonly Regex Words = new(@"[\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}]+|[^\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\s]+", RegexOptions.CultureInvariant | RegexOptions.Compiled);

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces) Splitter.Apply(piece, Splitter.RegexRanges(Words, piece.Text, invert: true), SplitBehavior.Removed, output);
    }
}

using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Split on a literal or regex, with a delimiter behaviour; invert makes the matches the kept words.</summary>
public sealed class SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces) Splitter.Apply(piece, Splitter.RegexRanges(pattern, piece.Text, invert), behavior, output);
    }
}

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Splits on whitespace, dropping it.</summary>
public sealed class WhitespaceSplitPreTokenizer : PreTokenizer
{
    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces) Splitter.Apply(piece, Splitter.CharRanges(piece.Text, (s, i) => char.IsWhiteSpace(s, i)), SplitBehavior.Removed, output);
    }
}

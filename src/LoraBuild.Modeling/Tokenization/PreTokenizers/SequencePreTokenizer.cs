namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>Applies pre-tokenizers in order, each to every piece the previous one produced.</summary>
public sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        if (steps.Count == 0)
        {
            output.AddRange(pieces);
            return;
        }
        var current = pieces;
        for (var i = 0; i < steps.Count; i++)
        {
            var next = i == steps.Count - 1 ? output : new List<Piece>();
            steps[i].PreTokenize(current, next);
            current = next;
        }
    }
}

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Applies normalizers in order.</summary>
public sealed class SequenceNormalizer(IReadOnlyList<Normalizer> steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}
